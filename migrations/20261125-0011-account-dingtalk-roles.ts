import { DataTypes } from 'sequelize';
import type { MigrationContext } from './types.js';

/** The DingTalk role names of an account (user/get `role_list`), matched by `dingtalk_role` rules. */
export async function up({ context: { queryInterface } }: { context: MigrationContext }): Promise<void> {
  await queryInterface.addColumn('accounts', 'dingtalk_roles', {
    type: DataTypes.JSONB,
    allowNull: false,
    defaultValue: [],
  });
}
