import { DataTypes } from 'sequelize';
import type { MigrationContext } from './types.js';

export async function up({ context: { queryInterface } }: { context: MigrationContext }): Promise<void> {
  await queryInterface.createTable('accounts', {
    id: { type: DataTypes.UUID, primaryKey: true },
    union_id: { type: DataTypes.STRING(128), allowNull: false, unique: true },
    user_id: { type: DataTypes.STRING(128), allowNull: true },
    corp_id: { type: DataTypes.STRING(128), allowNull: true },
    name: { type: DataTypes.STRING(256), allowNull: false },
    nickname: { type: DataTypes.STRING(256), allowNull: true },
    avatar_url: { type: DataTypes.TEXT, allowNull: true },
    email: { type: DataTypes.STRING(320), allowNull: true },
    email_verified: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    mobile: { type: DataTypes.STRING(32), allowNull: true },
    title: { type: DataTypes.STRING(256), allowNull: true },
    job_number: { type: DataTypes.STRING(64), allowNull: true },
    departments: { type: DataTypes.JSONB, allowNull: false, defaultValue: [] },
    is_admin: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    is_boss: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    status: { type: DataTypes.STRING(16), allowNull: false, defaultValue: 'active' },
    status_reason: { type: DataTypes.STRING(256), allowNull: true },
    last_login_at: { type: DataTypes.DATE, allowNull: true },
    created_at: { type: DataTypes.DATE, allowNull: false },
    updated_at: { type: DataTypes.DATE, allowNull: false },
  });
  await queryInterface.addIndex('accounts', ['corp_id', 'user_id'], { name: 'accounts_corp_user' });
  await queryInterface.addIndex('accounts', ['email'], { name: 'accounts_email' });
}
