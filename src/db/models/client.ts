import { type CreationOptional, DataTypes, type InferAttributes, type InferCreationAttributes, Model, type Sequelize } from 'sequelize';

/**
 * A registered OIDC client. `metadata` is oidc-provider client metadata without the secret; the
 * secret is kept encrypted (AES-256-GCM) so that oidc-provider can compare it and use it as an
 * HMAC key, and it is never shown again after it was created.
 */
export class ClientRecord extends Model<InferAttributes<ClientRecord>, InferCreationAttributes<ClientRecord>> {
  declare clientId: string;
  declare name: string;
  declare metadata: Record<string, unknown>;
  declare secretEncrypted: string | null;
  declare firstParty: CreationOptional<boolean>;
  declare enabled: CreationOptional<boolean>;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

/** A resource server (API) that receives JWT or opaque access tokens with `aud` = identifier. */
export class ResourceServerRecord extends Model<InferAttributes<ResourceServerRecord>, InferCreationAttributes<ResourceServerRecord>> {
  declare identifier: string;
  declare name: string;
  declare scopes: CreationOptional<string[]>;
  declare tokenFormat: CreationOptional<'jwt' | 'opaque'>;
  declare accessTokenTtl: number | null;
  declare signingAlg: string | null;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

export function initClients(sequelize: Sequelize): {
  ClientRecord: typeof ClientRecord;
  ResourceServerRecord: typeof ResourceServerRecord;
} {
  const ClientRecordModel = class extends ClientRecord {};
  ClientRecordModel.init(
    {
      clientId: { type: DataTypes.STRING(128), primaryKey: true },
      name: { type: DataTypes.STRING(256), allowNull: false },
      metadata: { type: DataTypes.JSONB, allowNull: false },
      secretEncrypted: { type: DataTypes.TEXT, allowNull: true },
      firstParty: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
      enabled: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: true },
      createdAt: DataTypes.DATE,
      updatedAt: DataTypes.DATE,
    },
    { sequelize, modelName: 'ClientRecord', tableName: 'clients', underscored: true },
  );
  const ResourceServerRecordModel = class extends ResourceServerRecord {};
  ResourceServerRecordModel.init(
    {
      identifier: { type: DataTypes.STRING(512), primaryKey: true },
      name: { type: DataTypes.STRING(256), allowNull: false },
      scopes: { type: DataTypes.JSONB, allowNull: false, defaultValue: [] },
      tokenFormat: { type: DataTypes.STRING(16), allowNull: false, defaultValue: 'jwt' },
      accessTokenTtl: { type: DataTypes.INTEGER, allowNull: true },
      signingAlg: { type: DataTypes.STRING(16), allowNull: true },
      createdAt: DataTypes.DATE,
      updatedAt: DataTypes.DATE,
    },
    { sequelize, modelName: 'ResourceServerRecord', tableName: 'resource_servers', underscored: true },
  );
  return { ClientRecord: ClientRecordModel, ResourceServerRecord: ResourceServerRecordModel };
}
