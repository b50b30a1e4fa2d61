import { type CreationOptional, DataTypes, type InferAttributes, type InferCreationAttributes, Model, type Sequelize } from 'sequelize';

/**
 * A token signing key. The newest activated `active` key of an algorithm signs; every `active` key
 * is published at /jwks, so tokens signed before a rotation still verify and a new key is known to
 * every replica's /jwks before any replica signs with it. `retired` keys are kept
 * for the record and no longer published.
 */
export class SigningKey extends Model<InferAttributes<SigningKey>, InferCreationAttributes<SigningKey>> {
  declare kid: string;
  declare alg: string;
  declare publicJwk: Record<string, unknown>;
  declare privateJwkEncrypted: string;
  declare status: CreationOptional<'active' | 'retired'>;
  declare createdAt: CreationOptional<Date>;
  /** From when it signs; before that it is only published. Null: from creation. */
  declare activatesAt: Date | null;
  declare retiredAt: Date | null;
}

export function initSigningKey(sequelize: Sequelize): typeof SigningKey {
  const SigningKeyModel = class extends SigningKey {};
  SigningKeyModel.init(
    {
      kid: { type: DataTypes.STRING(128), primaryKey: true },
      alg: { type: DataTypes.STRING(16), allowNull: false },
      publicJwk: { type: DataTypes.JSONB, allowNull: false },
      privateJwkEncrypted: { type: DataTypes.TEXT, allowNull: false },
      status: { type: DataTypes.STRING(16), allowNull: false, defaultValue: 'active' },
      createdAt: DataTypes.DATE,
      activatesAt: { type: DataTypes.DATE, allowNull: true },
      retiredAt: { type: DataTypes.DATE, allowNull: true },
    },
    { sequelize, modelName: 'SigningKey', tableName: 'signing_keys', underscored: true, updatedAt: false },
  );
  return SigningKeyModel;
}
