import { type CreationOptional, DataTypes, type InferAttributes, type InferCreationAttributes, Model, type Sequelize } from 'sequelize';

/**
 * What a person allowed an application to receive, remembered across sessions: the next login
 * to the same application asks again only for what is new. Deleting a row revokes the consent.
 */
export class Consent extends Model<InferAttributes<Consent>, InferCreationAttributes<Consent>> {
  declare id: CreationOptional<number>;
  declare accountId: string;
  declare clientId: string;
  declare scopes: string[];
  declare claims: string[];
  declare resourceScopes: Record<string, string[]>;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

export function initConsent(sequelize: Sequelize): typeof Consent {
  const ConsentModel = class extends Consent {};
  ConsentModel.init(
    {
      id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
      accountId: { type: DataTypes.UUID, allowNull: false },
      clientId: { type: DataTypes.STRING(128), allowNull: false },
      scopes: { type: DataTypes.JSONB, allowNull: false, defaultValue: [] },
      claims: { type: DataTypes.JSONB, allowNull: false, defaultValue: [] },
      resourceScopes: { type: DataTypes.JSONB, allowNull: false, defaultValue: {} },
      createdAt: DataTypes.DATE,
      updatedAt: DataTypes.DATE,
    },
    { sequelize, modelName: 'Consent', tableName: 'consents', underscored: true },
  );
  return ConsentModel;
}
