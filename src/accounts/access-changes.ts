import { QueryTypes } from 'sequelize';
import type { Account } from '../db/models/account.js';
import type { Models } from '../db/models/index.js';
import type { Logger } from '../log.js';
import type { IndexedAdapterConstructor } from '../store/account-index.js';
import { type AccessFacts, type AccountLookup, createAccessCheck, isAllowed, policyOf } from './access.js';
import type { AuditLog } from './audit.js';
import { GRANT_TOKEN_MODELS } from './revocation.js';
import type { RoleChange, RoleService } from './roles.js';

/** Audit event of a grant revoked because its person may no longer use its app. */
export const ACCESS_REVOKED = 'access.revoked';

/** Why access was looked at again (audit `details.reason`). */
export type AccessChangeReason = 'roles_changed' | 'access_policy_changed' | 'directory_changed' | 'signed_in';

export interface AccessChangeOptions {
  /** Who made the change: an admin's account id, `cli:<user>`, `dingtalk:sync`, `login`… */
  actor: string;
  reason: AccessChangeReason;
}

/** One app whose grants of one person were revoked. */
export interface AccessRevocation {
  accountId: string;
  clientId: string;
  grants: number;
}

export interface AccessChangesDeps {
  models: Models;
  /** The adapter oidc-provider stores grants and tokens with (and its account index). */
  adapter: IndexedAdapterConstructor;
  /** The account as it is now (the account cache: every write drops its copy at once). */
  lookup: AccountLookup;
  /** A client's metadata as stored now (not a cached copy), or undefined when it is gone. */
  clientMetadata: (clientId: string) => Promise<Record<string, unknown> | undefined>;
  audit: AuditLog;
  logger: Logger;
  /** Accounts looked at in parallel after a policy change. Default 8. */
  concurrency?: number;
}

/**
 * Access changes reach live tokens. Two halves, each enough to stop a token, together also clean:
 *
 * - **At use** (oidc/claims.ts `findAccount`, introspection's `allowedPolicy`): a refresh, a code
 *   exchange, userinfo and introspection apply the app's `access_policy` to the account as the
 *   account cache has it, so a role taken away, a tightened policy or a department move stops the
 *   person's tokens on every replica as soon as the change notification drops the cached copies.
 * - **At the change** (this file): the grants — with every refresh token, access token and code
 *   issued under them — that the person may no longer use are revoked and audited
 *   (`access.revoked`), so they stay dead even if the role comes back later.
 *
 * Called after a role change (console, API, CLI, rule change, login), after a directory re-read
 * (DingTalk sync or event) and after an app's access policy changed.
 */
export function createAccessChanges(deps: AccessChangesDeps) {
  const { adapter, audit, logger } = deps;
  const grants = new adapter('Grant');
  const tokens = GRANT_TOKEN_MODELS.map((model) => new adapter(model));
  const mayUse = createAccessCheck(deps.lookup);
  const concurrency = Math.max(1, deps.concurrency ?? 8);

  async function revokeGrant(grantId: string): Promise<void> {
    await Promise.all(tokens.map((store) => store.revokeByGrantId(grantId)));
    await grants.destroy(grantId);
  }

  /**
   * Revokes the account's grants at apps whose policy no longer admits it (only at `onlyClient`
   * when given); `clients` memoises client metadata across the accounts of one change.
   */
  async function enforce(
    accountId: string,
    options: AccessChangeOptions,
    clients: Map<string, Promise<Record<string, unknown> | undefined>>,
    onlyClient?: string,
  ): Promise<AccessRevocation[]> {
    const byClient = new Map<string, number>();
    for (const grantId of await adapter.accountIndex.grantIds(accountId)) {
      const grant = await grants.find(grantId);
      const clientId = grant?.clientId;
      if (!grant || grant.accountId !== accountId || typeof clientId !== 'string') continue;
      if (onlyClient !== undefined && clientId !== onlyClient) continue;
      let metadata = clients.get(clientId);
      if (!metadata) {
        metadata = deps.clientMetadata(clientId);
        clients.set(clientId, metadata);
      }
      const client = await metadata;
      // A removed app's tokens fail on their own (no client); an app without a policy admits everyone.
      if (!client || !policyOf(client) || (await mayUse(accountId, client))) continue;
      await revokeGrant(grantId);
      byClient.set(clientId, (byClient.get(clientId) ?? 0) + 1);
    }
    const revoked = [...byClient].map(([clientId, count]) => ({ accountId, clientId, grants: count }));
    for (const { clientId, grants: count } of revoked) {
      await audit.record({
        type: ACCESS_REVOKED,
        actor: options.actor,
        accountId,
        clientId,
        details: { reason: options.reason, grants: count },
      });
      logger.info({ accountId, clientId, grants: count, reason: options.reason }, 'access changed: grants revoked');
    }
    return revoked;
  }

  async function forAccounts(
    accountIds: readonly string[],
    run: (accountId: string) => Promise<AccessRevocation[]>,
  ): Promise<AccessRevocation[]> {
    const out: AccessRevocation[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < accountIds.length) out.push(...(await run(accountIds[next++]!)));
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, accountIds.length) }, worker));
    return out;
  }

  return {
    /** After one account's roles, departments or status changed: revoke what it may no longer use. */
    async accountChanged(accountId: string, options: AccessChangeOptions): Promise<AccessRevocation[]> {
      return enforce(accountId, options, new Map());
    },

    /** After role changes (assign, unassign, rules, role removal): the accounts that lost a role. */
    async rolesChanged(changes: readonly RoleChange[], options: Omit<AccessChangeOptions, 'reason'>): Promise<AccessRevocation[]> {
      const clients = new Map<string, Promise<Record<string, unknown> | undefined>>();
      const losers = [...new Set(changes.filter((change) => change.removed.length > 0).map((change) => change.accountId))];
      return forAccounts(losers, (accountId) => enforce(accountId, { ...options, reason: 'roles_changed' }, clients));
    },

    /**
     * After an app's `access_policy` was added or tightened: every active account the policy does
     * not admit loses its grants at that app.
     */
    async clientChanged(clientId: string, options: Omit<AccessChangeOptions, 'reason'>): Promise<AccessRevocation[]> {
      const client = await deps.clientMetadata(clientId);
      const policy = policyOf(client);
      if (!client || !policy || ((policy.roles ?? []).length === 0 && (policy.departments ?? []).length === 0)) return [];
      const rows = await deps.models.Account.sequelize!.query<{
        id: string;
        departments: AccessFacts['departments'] | null;
        roles: string[];
      }>(
        `SELECT a.id, a.departments, coalesce(array_agg(r.name) FILTER (WHERE r.name IS NOT NULL), '{}') AS roles
           FROM accounts a
           LEFT JOIN account_roles ar ON ar.account_id = a.id
           LEFT JOIN roles r ON r.id = ar.role_id
          WHERE a.status = 'active'
          GROUP BY a.id`,
        { type: QueryTypes.SELECT },
      );
      const outside = rows
        .filter((row) => !isAllowed(policy, { roles: row.roles, departments: row.departments ?? [] }))
        .map((row) => row.id);
      const clients = new Map([[clientId, Promise.resolve(client)]]);
      return forAccounts(outside, (accountId) => enforce(accountId, { ...options, reason: 'access_policy_changed' }, clients, clientId));
    },
  };
}

export type AccessChanges = ReturnType<typeof createAccessChanges>;

/**
 * What follows a re-read of an account from DingTalk (sync sweep, contact or department event):
 * its roles are re-evaluated (audited as `account.roles_changed`), then any app it may no longer
 * use — a role lost, or a department move out of a policy — loses its grants.
 */
export function createAfterDirectorySync(deps: { roles: RoleService; audit: AuditLog; access: AccessChanges }) {
  return async (account: Account): Promise<void> => {
    const change = await deps.roles.reevaluate(account);
    if (change.added.length + change.removed.length > 0) {
      await deps.audit.record({
        type: 'account.roles_changed',
        actor: 'dingtalk:sync',
        accountId: account.id,
        details: { added: change.added, removed: change.removed },
      });
    }
    await deps.access.accountChanged(account.id, { actor: 'dingtalk:sync', reason: 'directory_changed' });
  };
}
