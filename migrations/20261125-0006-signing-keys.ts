import { DataTypes } from 'sequelize';
import type { MigrationContext } from './types.js';

export async function up({ context: { queryInterface } }: { context: MigrationContext }): Promise<void> {
  await queryInterface.createTable('signing_keys', {
    kid: { type: DataTypes.STRING(128), primaryKey: true },
    alg: { type: DataTypes.STRING(16), allowNull: false },
    public_jwk: { type: DataTypes.JSONB, allowNull: false },
    private_jwk_encrypted: { type: DataTypes.TEXT, allowNull: false },
    status: { type: DataTypes.STRING(16), allowNull: false, defaultValue: 'active' },
    created_at: { type: DataTypes.DATE, allowNull: false },
    retired_at: { type: DataTypes.DATE, allowNull: true },
  });
}
