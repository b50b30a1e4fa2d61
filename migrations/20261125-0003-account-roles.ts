import { DataTypes } from 'sequelize';
import type { MigrationContext } from './types.js';

export async function up({ context: { queryInterface } }: { context: MigrationContext }): Promise<void> {
  await queryInterface.createTable('account_roles', {
    id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
    account_id: {
      type: DataTypes.UUID,
      allowNull: false,
      references: { model: 'accounts', key: 'id' },
      onDelete: 'CASCADE',
    },
    role_id: {
      type: DataTypes.INTEGER,
      allowNull: false,
      references: { model: 'roles', key: 'id' },
      onDelete: 'CASCADE',
    },
    source: { type: DataTypes.STRING(16), allowNull: false },
    rule_id: { type: DataTypes.INTEGER, allowNull: true },
    created_at: { type: DataTypes.DATE, allowNull: false },
  });
  // A manual assignment has no rule; COALESCE keeps it unique per account and role (NULLs differ).
  await queryInterface.sequelize.query(
    'CREATE UNIQUE INDEX account_roles_unique ON account_roles (account_id, role_id, source, COALESCE(rule_id, 0))',
  );
}
