import { DataTypes } from 'sequelize';
import type { MigrationContext } from './types.js';

/** A rotated key is published at once but signs only from `activates_at` (two-phase rotation). */
export async function up({ context: { queryInterface } }: { context: MigrationContext }): Promise<void> {
  await queryInterface.addColumn('signing_keys', 'activates_at', { type: DataTypes.DATE, allowNull: true });
}
