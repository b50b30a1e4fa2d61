import { DataTypes } from 'sequelize';
import type { MigrationContext } from './types.js';

/** Employee fields from the DingTalk directory record: the direct manager's userid and the hire date (issue #13 item 6). */
export async function up({ context: { queryInterface } }: { context: MigrationContext }): Promise<void> {
  await queryInterface.addColumn('accounts', 'manager_user_id', { type: DataTypes.STRING(128), allowNull: true });
  await queryInterface.addColumn('accounts', 'hired_at', { type: DataTypes.DATE, allowNull: true });
}
