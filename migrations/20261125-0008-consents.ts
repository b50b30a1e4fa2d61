import { DataTypes } from 'sequelize';
import type { MigrationContext } from './types.js';

export async function up({ context: { queryInterface } }: { context: MigrationContext }): Promise<void> {
  await queryInterface.createTable('consents', {
    id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
    account_id: {
      type: DataTypes.UUID,
      allowNull: false,
      references: { model: 'accounts', key: 'id' },
      onDelete: 'CASCADE',
    },
    client_id: { type: DataTypes.STRING(128), allowNull: false },
    scopes: { type: DataTypes.JSONB, allowNull: false, defaultValue: [] },
    claims: { type: DataTypes.JSONB, allowNull: false, defaultValue: [] },
    resource_scopes: { type: DataTypes.JSONB, allowNull: false, defaultValue: {} },
    created_at: { type: DataTypes.DATE, allowNull: false },
    updated_at: { type: DataTypes.DATE, allowNull: false },
  });
  await queryInterface.addIndex('consents', ['account_id', 'client_id'], { name: 'consents_account_client', unique: true });
  await queryInterface.addIndex('consents', ['client_id'], { name: 'consents_client' });
}
