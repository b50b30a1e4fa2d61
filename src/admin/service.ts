/**
 * What the console and the admin API do, in one place: both call these functions, so a change made
 * through either is checked, done and audited the same way. Everything is built on the services of
 * accounts/ (roles, deprovisioning, consents, audit) and the account index; nothing here knows Koa.
 */
import type Provider from 'oidc-provider';
import { Op, type Sequelize, type WhereOptions } from 'sequelize';
import type { AccessChanges } from '../accounts/access-changes.js';
import type { AuditLog } from '../accounts/audit.js';
import type { ConsentStore } from '../accounts/consents.js';
import type { Deprovisioning } from '../accounts/deprovisioning.js';
import type { EventInbox } from '../accounts/event-inbox.js';
import type { RoleChange, RoleService, RuleInput } from '../accounts/roles.js';
import type { Account } from '../db/models/account.js';
import type { AuditEvent } from '../db/models/audit-event.js';
import type { Models } from '../db/models/index.js';
import { AppError } from '../errors/app-error.js';
import type { ClientStore } from '../oidc/clients.js';
import type { AccountIndex } from '../store/account-index.js';
import type { ClientMetadata } from 'oidc-provider';
import type { DingTalkClient } from '../dingtalk/client.js';
import type { KeyStore } from '../oidc/keys.js';
import { createClientOps } from './clients.js';
import { toCsv } from './csv.js';
import { createEventOps } from './events.js';
import { createSessionOps, type DingTalkEventSettings } from './sessions.js';

/** Who made a change: the admin's account id (the audit `actor`), how, and from where. */
export interface Actor {
  /** The acting admin's account id; for the command line `cli:<user>`. */
  accountId: string;
  via: 'console' | 'api' | 'cli';
  ip?: string;
  /** The API client whose token was used. */
  clientId?: string;
}

export interface Paged<T> {
  items: T[];
  page: number;
  pageSize: number;
  total: number;
}

export interface AccountListItem {
  id: string;
  name: string;
  userId: string | null;
  unionId: string;
  email: string | null;
  departments: string[];
  title: string | null;
  status: string;
  lastLoginAt: Date | null;
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

export const MAX_PAGE_SIZE = 100;
export const MAX_CSV_ROWS = 50_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface AdminServiceDeps {
  sequelize: Sequelize;
  models: Models;
  roles: RoleService;
  deprovisioning: Deprovisioning;
  consents: ConsentStore;
  clientStore: ClientStore;
  accountIndex: AccountIndex;
  /** The provider serving now (keys rotate: never keep one instance). */
  provider: () => Provider;
  audit: AuditLog;
  issuer: string;
  keyStore: KeyStore;
  /** oidc-provider's own check of client metadata (ProviderHolder.validateClient). */
  validateClient: (metadata: ClientMetadata) => Promise<void>;
  /** Tells every replica that the signing keys changed (notifier `keys` → holder.reloadKeys). */
  keysChanged?: () => Promise<void>;
  dingtalk?: DingTalkClient;
  /** Whether DINGTALK_EVENT_TOKEN and DINGTALK_EVENT_AES_KEY are set. */
  dingtalkEvents?: DingTalkEventSettings;
  /** Revokes grants that role and access-policy changes take away (accounts/access-changes.ts). */
  access?: AccessChanges;
  /** The DingTalk event inbox (Services.inbox). */
  inbox?: EventInbox;
}

/** Writes an admin change to the audit log with who made it, how (`via`) and from where. */
export function auditRecorder(audit: AuditLog) {
  return (actor: Actor, entry: { type: string; accountId?: string | null; details?: Record<string, unknown> }) =>
    audit.record({
      type: entry.type,
      actor: actor.accountId,
      accountId: entry.accountId ?? null,
      clientId: actor.clientId ?? null,
      ip: actor.ip ?? null,
      details: { via: actor.via, ...entry.details },
    });
}

export function createAdminService(deps: AdminServiceDeps) {
  const { sequelize, models, roles, deprovisioning, audit } = deps;
  const { Account, AuditEvent, Consent } = models;
  const record = auditRecorder(audit);
  const sessionOps = createSessionOps({ ...deps, record });

  async function recordChanges(actor: Actor, changes: readonly RoleChange[]): Promise<void> {
    for (const change of changes) {
      if (change.added.length + change.removed.length === 0) continue;
      await record(actor, {
        type: 'account.roles_changed',
        accountId: change.accountId,
        details: { added: change.added, removed: change.removed },
      });
    }
    await deps.access?.rolesChanged(changes, { actor: actor.accountId });
  }

  async function clientNames(): Promise<Map<string, string>> {
    return new Map((await deps.clientStore.list()).map((client) => [client.clientId, client.name]));
  }

  function listItem(account: Account): AccountListItem {
    return {
      id: account.id,
      name: account.name,
      userId: account.userId,
      unionId: account.unionId,
      email: account.email,
      departments: (account.departments ?? []).map((department) => department.path ?? department.name),
      title: account.title,
      status: account.status,
      lastLoginAt: account.lastLoginAt,
    };
  }

  async function auditPage(filter: AuditFilter, limit: number): Promise<{ items: AuditItem[]; nextCursor: string | null }> {
    const where: Record<string | symbol, unknown> = {};
    if (filter.account) {
      if (!UUID.test(filter.account)) throw badFilter('account is an account id');
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
      if (!/^\d{1,18}$/.test(filter.before)) throw badFilter('cursor is an event id');
      where.id = { [Op.lt]: filter.before };
    }
    const rows = await AuditEvent.findAll({ where: where as WhereOptions<AuditEvent>, order: [['id', 'DESC']], limit: limit + 1 });
    const items = rows.slice(0, limit).map(toAuditItem);
    return { items, nextCursor: rows.length > limit ? (items.at(-1)?.id ?? null) : null };
  }

  return {
    ...sessionOps,
    ...createClientOps({
      issuer: deps.issuer,
      clientStore: deps.clientStore,
      validateClient: deps.validateClient,
      record,
      forgetClient: (clientId) => sessionOps.forgetClient(clientId),
      ...(deps.access ? { access: deps.access } : {}),
    }),
    ...createEventOps({ ...(deps.inbox ? { inbox: deps.inbox } : {}), record }),

    /**
     * Accounts whose name, userid, unionId, email or a department name contains `q` (any case),
     * by name; `status` narrows to active or disabled ones.
     */
    async searchAccounts(query: { q?: string; status?: string; page: number; pageSize: number }): Promise<Paged<AccountListItem>> {
      const conditions: unknown[] = [];
      const q = query.q?.trim().slice(0, 128);
      if (q) {
        const pattern = `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        const like = { [Op.iLike]: pattern };
        conditions.push({
          [Op.or]: [
            { name: like },
            { userId: like },
            { unionId: q },
            { email: like },
            sequelize.literal(
              `EXISTS (SELECT 1 FROM jsonb_array_elements("Account"."departments") AS d WHERE d->>'name' ILIKE ${sequelize.escape(pattern)} OR d->>'path' ILIKE ${sequelize.escape(pattern)})`,
            ),
          ],
        });
      }
      if (query.status === 'active' || query.status === 'disabled') conditions.push({ status: query.status });
      const { rows, count } = await Account.findAndCountAll({
        where: { [Op.and]: conditions } as WhereOptions<Account>,
        order: [
          ['name', 'ASC'],
          ['id', 'ASC'],
        ],
        limit: query.pageSize,
        offset: (query.page - 1) * query.pageSize,
      });
      return { items: rows.map(listItem), page: query.page, pageSize: query.pageSize, total: count };
    },

    /** Everything the console shows about one account (by id, userid or unionId). */
    async accountDetail(ref: string) {
      const account = await roles.findAccount(ref);
      const provider = deps.provider();
      const names = await clientNames();
      const nameOf = (clientId: string) => names.get(clientId) ?? clientId;
      const [sessionIds, grantIds] = await Promise.all([deps.accountIndex.sessionIds(account.id), deps.accountIndex.grantIds(account.id)]);
      const sessions = (
        await Promise.all(
          sessionIds.map(async (id) => {
            const session = await provider.Session.find(id);
            if (!session || session.accountId !== account.id) return undefined;
            return {
              // The session id is the value of a browser's session cookie: never shown.
              uid: session.uid,
              signedInAt: session.loginTs ? new Date(session.loginTs * 1000) : null,
              expiresAt: session.exp ? new Date(session.exp * 1000) : null,
              apps: Object.keys(session.authorizations ?? {}).map((clientId) => ({ clientId, name: nameOf(clientId) })),
            };
          }),
        )
      ).filter((session) => session !== undefined);
      const grants = (
        await Promise.all(
          grantIds.map(async (id) => {
            const grant = await provider.Grant.find(id);
            if (!grant || grant.accountId !== account.id || !grant.clientId) return undefined;
            return {
              clientId: grant.clientId,
              name: nameOf(grant.clientId),
              scope: grant.getOIDCScope(),
              resources: grant.resources ?? {},
              createdAt: grant.iat ? new Date(grant.iat * 1000) : null,
              expiresAt: grant.exp ? new Date(grant.exp * 1000) : null,
            };
          }),
        )
      )
        .filter((grant) => grant !== undefined)
        .sort((a, b) => (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0));
      const consents = (await Consent.findAll({ where: { accountId: account.id }, order: [['clientId', 'ASC']] })).map((row) => ({
        clientId: row.clientId,
        name: nameOf(row.clientId),
        scopes: row.scopes,
        claims: row.claims,
        resourceScopes: row.resourceScopes,
        updatedAt: row.updatedAt,
      }));
      const recentAudit = (await auditPage({ account: account.id }, 20)).items;
      return {
        account: {
          ...listItem(account),
          corpId: account.corpId,
          nickname: account.nickname,
          avatarUrl: account.avatarUrl,
          emailVerified: account.emailVerified,
          mobile: account.mobile,
          jobNumber: account.jobNumber,
          departmentRecords: account.departments ?? [],
          isAdmin: account.isAdmin,
          isBoss: account.isBoss,
          dingtalkRoles: account.dingtalkRoles ?? [],
          statusReason: account.statusReason,
          createdAt: account.createdAt,
          updatedAt: account.updatedAt,
        },
        roles: await roles.assignmentsOf(account.id),
        sessions,
        grants,
        consents,
        recentAudit,
      };
    },

    /** Disables the account and revokes everything it has (audited by deprovisioning). */
    async disableAccount(ref: string, actor: Actor, reason?: string) {
      const account = await roles.findAccount(ref);
      const wasActive = account.status === 'active';
      const result = await deprovisioning.disable(account, {
        actor: actor.accountId,
        source: `admin:${actor.via}`,
        ...(reason ? { reason: reason.slice(0, 200) } : {}),
      });
      return {
        accountId: account.id,
        disabled: wasActive,
        sessions: result.sessions,
        grants: result.grants,
        backchannelFailed: result.failures.length,
      };
    },

    async enableAccount(ref: string, actor: Actor) {
      const account = await roles.findAccount(ref);
      const enabled = await deprovisioning.enable(account, { actor: actor.accountId, source: `admin:${actor.via}` });
      return { accountId: account.id, enabled };
    },

    /** Ends every session and grant of the account; it stays enabled. */
    async revokeAccount(ref: string, actor: Actor) {
      const account = await roles.findAccount(ref);
      const result = await deprovisioning.revoke(account.id, { actor: actor.accountId, reason: 'admin.revoke' });
      return { accountId: account.id, sessions: result.sessions, grants: result.grants, backchannelFailed: result.failures.length };
    },

    /** Re-reads the account from DingTalk now; the request itself is audited whatever it found. */
    async syncAccount(ref: string, actor: Actor) {
      const account = await roles.findAccount(ref);
      const outcome = await deprovisioning.syncAccount(account, { actor: actor.accountId, source: `admin:${actor.via}` });
      await record(actor, { type: 'account.sync_requested', accountId: account.id, details: { outcome } });
      return { accountId: account.id, outcome };
    },

    listRoles: () => roles.listRoles(),
    listRules: () => roles.listRules(),
    previewRule: (input: { kind: string; value?: unknown; includeSubDepartments?: boolean }) => roles.preview(input),

    async createRole(name: string, description: string | null | undefined, actor: Actor) {
      const role = await roles.addRole(name, description);
      await record(actor, { type: 'role.created', details: { role: role.name } });
      return role;
    },

    async deleteRole(name: string, actor: Actor) {
      const changes = await roles.removeRole(name);
      await record(actor, { type: 'role.removed', details: { role: name, accounts: changes.length } });
      await recordChanges(actor, changes);
      return { role: name, accounts: changes.length };
    },

    async assignRole(name: string, ref: string, actor: Actor) {
      const change = await roles.assign(name, ref);
      await record(actor, { type: 'role.assigned', accountId: change.accountId, details: { role: name } });
      await recordChanges(actor, [change]);
      return change;
    },

    /** `undefined` when the account had no manual assignment of the role. */
    async unassignRole(name: string, ref: string, actor: Actor) {
      const change = await roles.unassign(name, ref);
      if (!change) return undefined;
      await record(actor, { type: 'role.unassigned', accountId: change.accountId, details: { role: name } });
      await recordChanges(actor, [change]);
      return change;
    },

    async addRule(input: RuleInput, actor: Actor) {
      const { rule, changes } = await roles.addRule(input);
      await record(actor, {
        type: 'role_rule.created',
        details: { rule: rule.id, role: rule.role, kind: rule.kind, value: rule.value, includeSubDepartments: rule.includeSubDepartments },
      });
      await recordChanges(actor, changes);
      return { rule, changes };
    },

    async removeRule(id: number, actor: Actor) {
      const { rule, changes } = await roles.removeRule(id);
      await record(actor, { type: 'role_rule.removed', details: { rule: rule.id, role: rule.role, kind: rule.kind, value: rule.value } });
      await recordChanges(actor, changes);
      return { rule, changes };
    },

    /** Newest first; `nextCursor` continues the list. */
    auditPage,

    /** The filtered log as CSV, newest first, at most {@link MAX_CSV_ROWS} rows. */
    async auditCsv(filter: AuditFilter): Promise<string> {
      const rows: unknown[][] = [['id', 'time', 'type', 'actor', 'account_id', 'client_id', 'ip', 'details']];
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

    /** Counts for the dashboard. */
    async stats() {
      const [accounts, disabled, roleList, events] = await Promise.all([
        Account.count(),
        Account.count({ where: { status: 'disabled' } }),
        roles.listRoles(),
        deps.inbox?.counts(),
      ]);
      return {
        ...(events ? { eventsPending: events.pending, eventsFailed: events.failed } : {}),
        accounts,
        active: accounts - disabled,
        disabled,
        roles: roleList.length,
        rules: roleList.reduce((sum, role) => sum + role.rules, 0),
      };
    },
  };
}

export type AdminService = ReturnType<typeof createAdminService>;

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

function badFilter(message: string): AppError {
  return new AppError('admin.invalid_filter', message, { status: 400 });
}

/** Page and page size from a query: whole numbers, clamped (bad input gives the defaults, never an error). */
export function pageOf(query: Record<string, unknown>, defaultSize = 25): { page: number; pageSize: number } {
  const int = (value: unknown): number | undefined => {
    const text = Array.isArray(value) ? value[0] : value;
    return typeof text === 'string' && /^\d{1,6}$/.test(text) ? Number(text) : undefined;
  };
  const page = Math.max(1, Math.min(10_000, int(query.page) ?? 1));
  const pageSize = Math.max(1, Math.min(MAX_PAGE_SIZE, int(query.pageSize) ?? defaultSize));
  return { page, pageSize };
}

/** Slices an in-memory list (roles, rules: short lists) the same way. */
export function paginate<T>(items: readonly T[], page: number, pageSize: number): Paged<T> {
  return { items: items.slice((page - 1) * pageSize, page * pageSize), page, pageSize, total: items.length };
}

/** Audit filters from a query string; invalid dates are a 400 `admin.invalid_filter`. */
export function auditFilterOf(query: Record<string, unknown>): AuditFilter {
  const text = (name: string): string | undefined => {
    const value = query[name];
    const first = Array.isArray(value) ? value[0] : value;
    return typeof first === 'string' && first.trim() !== '' ? first.trim().slice(0, 256) : undefined;
  };
  const date = (name: string): Date | undefined => {
    const value = text(name);
    if (value === undefined) return undefined;
    const parsed = new Date(value);
    if (Number.isNaN(parsed.getTime())) throw badFilter(`${name} is a date or time (ISO 8601)`);
    return parsed;
  };
  const filter: AuditFilter = {};
  const account = text('account');
  const client = text('client');
  const type = text('type');
  const actor = text('actor');
  const before = text('cursor');
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
