import { DataTypes } from 'sequelize';
import type { MigrationContext } from './types.js';

/** The durable event inbox (accounts/inbox/): every DingTalk event, from HTTP or Stream. */
export async function up({ context: { queryInterface } }: { context: MigrationContext }): Promise<void> {
  await queryInterface.createTable('inbox_events', {
    id: { type: DataTypes.STRING(200), primaryKey: true },
    transport: { type: DataTypes.STRING(16), allowNull: false },
    type: { type: DataTypes.STRING(64), allowNull: true },
    corp_id: { type: DataTypes.STRING(64), allowNull: true },
    user_ids: { type: DataTypes.JSONB, allowNull: false, defaultValue: [] },
    department_ids: { type: DataTypes.JSONB, allowNull: false, defaultValue: [] },
    occurred_at: { type: DataTypes.DATE, allowNull: true },
    payload: { type: DataTypes.JSONB, allowNull: true },
    status: { type: DataTypes.STRING(16), allowNull: false },
    reason: { type: DataTypes.TEXT, allowNull: true },
    urgent_done_at: { type: DataTypes.DATE, allowNull: true },
    logouts: { type: DataTypes.JSONB, allowNull: false, defaultValue: [] },
    attempts: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
    next_attempt_at: { type: DataTypes.DATE, allowNull: false },
    finished_at: { type: DataTypes.DATE, allowNull: true },
    created_at: { type: DataTypes.DATE, allowNull: false },
    updated_at: { type: DataTypes.DATE, allowNull: false },
  });
  // The worker's question: which pending item is due?
  await queryInterface.addIndex('inbox_events', ['status', 'next_attempt_at'], { name: 'inbox_events_due' });
  // The console's lists (newest first, by status) and the pruning of finished items.
  await queryInterface.addIndex('inbox_events', ['status', 'created_at'], { name: 'inbox_events_status_created' });
  await queryInterface.addIndex('inbox_events', ['created_at'], { name: 'inbox_events_created' });
}
