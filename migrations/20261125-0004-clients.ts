import { DataTypes } from 'sequelize';
import type { MigrationContext } from './types.js';

export async function up({ context: { queryInterface } }: { context: MigrationContext }): Promise<void> {
  await queryInterface.createTable('clients', {
    client_id: { type: DataTypes.STRING(128), primaryKey: true },
    name: { type: DataTypes.STRING(256), allowNull: false },
    metadata: { type: DataTypes.JSONB, allowNull: false },
    secret_encrypted: { type: DataTypes.TEXT, allowNull: true },
    first_party: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    enabled: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: true },
    created_at: { type: DataTypes.DATE, allowNull: false },
    updated_at: { type: DataTypes.DATE, allowNull: false },
  });
}
