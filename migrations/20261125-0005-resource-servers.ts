import { DataTypes } from 'sequelize';
import type { MigrationContext } from './types.js';

export async function up({ context: { queryInterface } }: { context: MigrationContext }): Promise<void> {
  await queryInterface.createTable('resource_servers', {
    identifier: { type: DataTypes.STRING(512), primaryKey: true },
    name: { type: DataTypes.STRING(256), allowNull: false },
    scopes: { type: DataTypes.JSONB, allowNull: false, defaultValue: [] },
    token_format: { type: DataTypes.STRING(16), allowNull: false, defaultValue: 'jwt' },
    access_token_ttl: { type: DataTypes.INTEGER, allowNull: true },
    signing_alg: { type: DataTypes.STRING(16), allowNull: true },
    created_at: { type: DataTypes.DATE, allowNull: false },
    updated_at: { type: DataTypes.DATE, allowNull: false },
  });
}
