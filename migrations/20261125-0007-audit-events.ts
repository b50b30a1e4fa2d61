import { DataTypes } from 'sequelize';
import type { MigrationContext } from './types.js';

export async function up({ context: { queryInterface } }: { context: MigrationContext }): Promise<void> {
  await queryInterface.createTable('audit_events', {
    id: { type: DataTypes.BIGINT, primaryKey: true, autoIncrement: true },
    type: { type: DataTypes.STRING(64), allowNull: false },
    actor: { type: DataTypes.STRING(256), allowNull: true },
    account_id: { type: DataTypes.UUID, allowNull: true },
    client_id: { type: DataTypes.STRING(128), allowNull: true },
    ip: { type: DataTypes.STRING(64), allowNull: true },
    details: { type: DataTypes.JSONB, allowNull: false, defaultValue: {} },
    created_at: { type: DataTypes.DATE, allowNull: false },
  });
  await queryInterface.addIndex('audit_events', ['created_at'], { name: 'audit_events_created_at' });
  await queryInterface.addIndex('audit_events', ['account_id', 'created_at'], { name: 'audit_events_account' });
  await queryInterface.addIndex('audit_events', ['type', 'created_at'], { name: 'audit_events_type' });
}
