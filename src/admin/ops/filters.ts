/**
 * Filters of the admin lists from a query string or command-line options: what the console, the
 * API and the CLI accept alike. Invalid values are a 400 `admin.invalid_filter`; the queries
 * themselves are in the resource's file.
 */
import { INBOX_STATUSES, type InboxStatus } from '../../db/models/inbox-event.js';
import { AppError } from '../../errors/app-error.js';

/** An account id. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function invalidFilter(message: string): AppError {
  return new AppError('admin.invalid_filter', message, { status: 400 });
}

export interface AuditFilter {
  account?: string;
  client?: string;
  /** Exact type, or a prefix ending in `.` or `*` (`account.`, `role*`). */
  type?: string;
  actor?: string;
  from?: Date;
  to?: Date;
  /** Cursor: only events with a smaller id (the `nextCursor` of the previous page). */
  before?: string;
}

/** The first value of a query parameter, trimmed and bounded; undefined when blank. */
function textOf(query: Record<string, unknown>, name: string): string | undefined {
  const value = query[name];
  const first: unknown = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' && first.trim() !== '' ? first.trim().slice(0, 256) : undefined;
}

/** Audit filters from a query string; invalid dates are a 400 `admin.invalid_filter`. */
export function auditFilterOf(query: Record<string, unknown>): AuditFilter {
  const date = (name: string): Date | undefined => {
    const value = textOf(query, name);
    if (value === undefined) return undefined;
    const parsed = new Date(value);
    if (Number.isNaN(parsed.getTime())) throw invalidFilter(`${name} is a date or time (ISO 8601)`);
    return parsed;
  };
  const filter: AuditFilter = {};
  const account = textOf(query, 'account');
  const client = textOf(query, 'client');
  const type = textOf(query, 'type');
  const actor = textOf(query, 'actor');
  const before = textOf(query, 'cursor');
  const from = date('from');
  const to = date('to');
  if (account) filter.account = account;
  if (client) filter.client = client;
  if (type) filter.type = type;
  if (actor) filter.actor = actor;
  if (before) filter.before = before;
  if (from) filter.from = from;
  if (to) filter.to = to;
  return filter;
}

/** The `account` and `client` filters of the session and consent lists. */
export function accountClientFilterOf(query: Record<string, unknown>): { account?: string; client?: string } {
  const account = textOf(query, 'account');
  const client = textOf(query, 'client');
  return { ...(account ? { account } : {}), ...(client ? { client } : {}) };
}

/** The inbox's `status` from a query string or a command-line option; undefined for all; 400 for anything else. */
export function inboxStatusOf(value: unknown): InboxStatus | undefined {
  if (value === undefined || value === null || value === '' || value === 'all') return undefined;
  if (typeof value === 'string' && (INBOX_STATUSES as readonly string[]).includes(value)) return value as InboxStatus;
  throw invalidFilter(`status is one of ${INBOX_STATUSES.join(', ')}`);
}
