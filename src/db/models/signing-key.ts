import {
  type CreationOptional,
  DataTypes,
  type InferAttributes,
  type InferCreationAttributes,
  Model,
  type Sequelize,
} from 'sequelize';

/**
 * A token signing key. The newest `active` key of an algorithm signs; every `active` key is
 * published at /jwks so tokens signed before a rotation still verify. `retired` keys are kept
 * for the record and no longer published.
 */
export class SigningKey extends Model<InferAttributes<SigningKey>, InferCreationAttributes<SigningKey>> {
  declare kid: string;
  declare alg: string;
  declare publicJwk: Record<string, unknown>;
  declare privateJwkEncrypted: string;
  declare status: CreationOptional<'active' | 'retired'>;
  declare createdAt: CreationOptional<Date>;
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
      retiredAt: { type: DataTypes.DATE, allowNull: true },
    },
    { sequelize, modelName: 'SigningKey', tableName: 'signing_keys', underscored: true, updatedAt: false },
  );
  return SigningKeyModel;
}
