import { Op, QueryTypes, type Sequelize } from 'sequelize';

import type { Models } from '../../db/models/index.js';
import type { InboxEvent, InboxStatus } from '../../db/models/inbox-event.js';
import { AppError } from '../../errors/app-error.js';
import type { EventInbox, InboxItem, InboxPage } from './types.js';

export type InboxListing = Pick<EventInbox, 'list' | 'get' | 'retry' | 'counts'>;

/** What operators see and do with the inbox (console, API, CLI through admin/ops/events.ts). */
export function createInboxListing(deps: { sequelize: Sequelize; models: Models; wake: () => void }): InboxListing {
  const { sequelize, wake } = deps;
  const { InboxEvent } = deps.models;

  async function list(filter: { status?: InboxStatus; limit?: number; offset?: number } = {}): Promise<InboxPage> {
    const where = filter.status ? { status: filter.status } : {};
    const { rows, count } = await InboxEvent.findAndCountAll({
      where,
      order: [
        ['createdAt', 'DESC'],
        ['id', 'ASC'],
      ],
      limit: Math.min(Math.max(filter.limit ?? 50, 1), 500),
      offset: Math.max(filter.offset ?? 0, 0),
    });
    return { items: rows.map(toItem), total: count };
  }

  async function get(id: string): Promise<InboxItem | null> {
    const row = await InboxEvent.findByPk(id);
    return row ? toItem(row) : null;
  }

  async function retry(id: string): Promise<{ item: InboxItem; previous: InboxItem }> {
    const row = await InboxEvent.findByPk(id);
    if (!row) throw new AppError('inbox.not_found', 'no such event in the inbox', { status: 404, expose: true });
    if (row.type === null) {
      throw new AppError('inbox.not_retryable', 'an event that could not be read cannot be retried', { status: 409, expose: true });
    }
    if (row.status !== 'failed' && row.status !== 'pending') {
      throw new AppError('inbox.not_retryable', `only failed or pending events can be retried (this one is ${row.status})`, {
        status: 409,
        expose: true,
      });
    }
    const now = new Date();
    const [changed] = await InboxEvent.update(
      { status: 'pending', attempts: 0, nextAttemptAt: now, finishedAt: null },
      { where: { id, status: { [Op.in]: ['failed', 'pending'] } } },
    );
    if (changed === 0) throw new AppError('inbox.not_retryable', 'the event changed meanwhile; look again', { status: 409, expose: true });
    wake();
    return { item: (await get(id))!, previous: toItem(row) };
  }

  async function counts(): Promise<Record<InboxStatus, number>> {
    const rows = await sequelize.query<{ status: InboxStatus; count: string }>(
      'SELECT status, count(*) AS count FROM inbox_events GROUP BY status',
      { type: QueryTypes.SELECT },
    );
    const result: Record<InboxStatus, number> = { pending: 0, done: 0, failed: 0, ignored: 0 };
    for (const row of rows) result[row.status] = Number(row.count);
    return result;
  }

  return { list, get, retry, counts };
}

function toItem(row: InboxEvent): InboxItem {
  return {
    id: row.id,
    transport: row.transport,
    type: row.type,
    corpId: row.corpId,
    userIds: row.userIds,
    departmentIds: row.departmentIds,
    occurredAt: row.occurredAt,
    status: row.status,
    reason: row.reason,
    urgentDone: row.urgentDoneAt !== null,
    pendingLogouts: row.logouts.length,
    attempts: row.attempts,
    nextAttemptAt: row.status === 'pending' ? row.nextAttemptAt : null,
    finishedAt: row.finishedAt,
    receivedAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}
