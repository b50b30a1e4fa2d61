/**
 * Accounts for operators: search, everything about one account (roles, sessions, grants,
 * consents, recent audit), disable, enable, revoke and re-sync from DingTalk. Built on the role
 * service, deprovisioning and the account index; the search is the one raw SQL of ops/.
 */
import type Provider from 'oidc-provider';
import { Op, type Sequelize, type WhereOptions } from 'sequelize';
import type { Deprovisioning } from '../../accounts/deprovisioning.js';
import type { RoleService } from '../../accounts/roles.js';
import type { Account } from '../../db/models/account.js';
import type { Models } from '../../db/models/index.js';
import type { ClientStore } from '../../oidc/clients.js';
import type { AccountIndex } from '../../store/account-index.js';
import type { Actor, AuditRecorder } from './actor.js';
import type { AuditOps } from './audit.js';
import { clientNames } from './clients.js';
import type { Paged } from './paging.js';

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

export interface AccountOpsDeps {
  sequelize: Sequelize;
  models: Pick<Models, 'Account' | 'Consent'>;
  roles: RoleService;
  deprovisioning: Deprovisioning;
  clientStore: ClientStore;
  accountIndex: AccountIndex;
  /** The provider serving now (keys rotate: never keep one instance). */
  provider: () => Provider;
  record: AuditRecorder;
  audit: Pick<AuditOps, 'auditPage'>;
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

export function createAccountOps(deps: AccountOpsDeps) {
  const { sequelize, roles, deprovisioning, record } = deps;
  const { Account, Consent } = deps.models;

  return {
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
      const names = await clientNames(deps.clientStore);
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
      const recentAudit = (await deps.audit.auditPage({ account: account.id }, 20)).items;
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
  };
}

export type AccountOps = ReturnType<typeof createAccountOps>;
