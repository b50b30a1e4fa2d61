import { type CreationOptional, DataTypes, type InferAttributes, type InferCreationAttributes, Model, type Sequelize } from 'sequelize';

/** Something that happened: a login, a consent, a revocation, an admin change. Append-only. */
export class AuditEvent extends Model<InferAttributes<AuditEvent>, InferCreationAttributes<AuditEvent>> {
  declare id: CreationOptional<string>;
  declare type: string;
  declare actor: string | null;
  declare accountId: string | null;
  declare clientId: string | null;
  declare ip: string | null;
  declare details: CreationOptional<Record<string, unknown>>;
  declare createdAt: CreationOptional<Date>;
}

export function initAuditEvent(sequelize: Sequelize): typeof AuditEvent {
  const AuditEventModel = class extends AuditEvent {};
  AuditEventModel.init(
    {
      id: { type: DataTypes.BIGINT, primaryKey: true, autoIncrement: true },
      type: { type: DataTypes.STRING(64), allowNull: false },
      actor: { type: DataTypes.STRING(256), allowNull: true },
      accountId: { type: DataTypes.UUID, allowNull: true },
      clientId: { type: DataTypes.STRING(128), allowNull: true },
      ip: { type: DataTypes.STRING(64), allowNull: true },
      details: { type: DataTypes.JSONB, allowNull: false, defaultValue: {} },
      createdAt: DataTypes.DATE,
    },
    { sequelize, modelName: 'AuditEvent', tableName: 'audit_events', underscored: true, updatedAt: false },
  );
  return AuditEventModel;
}
