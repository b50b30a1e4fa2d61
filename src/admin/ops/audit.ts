/** The audit log for operators: pages newest first with a cursor, and the filtered log as CSV. */
import { Op, type WhereOptions } from 'sequelize';
import type { AuditEvent } from '../../db/models/audit-event.js';
import type { Models } from '../../db/models/index.js';
import { toCsv, type CsvValue } from './csv.js';
import { type AuditFilter, invalidFilter, UUID } from './filters.js';

export interface AuditItem {
  id: string;
  createdAt: Date;
  type: string;
  actor: string | null;
  accountId: string | null;
  clientId: string | null;
  ip: string | null;
  details: Record<string, unknown>;
}

export const MAX_CSV_ROWS = 50_000;

export function createAuditOps(deps: { models: Pick<Models, 'AuditEvent'> }) {
  const { AuditEvent } = deps.models;

  /** Newest first; `nextCursor` continues the list. */
  async function auditPage(filter: AuditFilter, limit: number): Promise<{ items: AuditItem[]; nextCursor: string | null }> {
    const where: Record<string | symbol, unknown> = {};
    if (filter.account) {
      if (!UUID.test(filter.account)) throw invalidFilter('account is an account id');
      where.accountId = filter.account.toLowerCase();
    }
    if (filter.client) where.clientId = filter.client;
    if (filter.actor) where.actor = filter.actor;
    if (filter.type) {
      const prefix = /[.*]$/.test(filter.type) ? filter.type.replace(/\*$/, '') : undefined;
      where.type = prefix === undefined ? filter.type : { [Op.startsWith]: prefix };
    }
    const created: Record<symbol, Date> = {};
    if (filter.from) created[Op.gte] = filter.from;
    if (filter.to) created[Op.lte] = filter.to;
    if (filter.from || filter.to) where.createdAt = created;
    if (filter.before) {
      if (!/^\d{1,18}$/.test(filter.before)) throw invalidFilter('cursor is an event id');
      where.id = { [Op.lt]: filter.before };
    }
    const rows = await AuditEvent.findAll({ where: where as WhereOptions<AuditEvent>, order: [['id', 'DESC']], limit: limit + 1 });
    const items = rows.slice(0, limit).map(toAuditItem);
    return { items, nextCursor: rows.length > limit ? (items.at(-1)?.id ?? null) : null };
  }

  return {
    auditPage,

    /** The filtered log as CSV, newest first, at most {@link MAX_CSV_ROWS} rows. */
    async auditCsv(filter: AuditFilter): Promise<string> {
      const rows: CsvValue[][] = [['id', 'time', 'type', 'actor', 'account_id', 'client_id', 'ip', 'details']];
      let before = filter.before;
      while (rows.length <= MAX_CSV_ROWS) {
        const page = await auditPage(
          { ...filter, ...(before === undefined ? {} : { before }) },
          Math.min(1000, MAX_CSV_ROWS + 1 - rows.length),
        );
        for (const item of page.items) {
          rows.push([
            item.id,
            item.createdAt.toISOString(),
            item.type,
            item.actor,
            item.accountId,
            item.clientId,
            item.ip,
            JSON.stringify(item.details),
          ]);
        }
        if (!page.nextCursor || page.items.length === 0) break;
        before = page.nextCursor;
      }
      return toCsv(rows);
    },
  };
}

export type AuditOps = ReturnType<typeof createAuditOps>;

function toAuditItem(row: AuditEvent): AuditItem {
  return {
    id: String(row.id),
    createdAt: row.createdAt,
    type: row.type,
    actor: row.actor,
    accountId: row.accountId,
    clientId: row.clientId,
    ip: row.ip,
    details: row.details ?? {},
  };
}
