import { LRUCache } from 'lru-cache';
import type { Transaction } from 'sequelize';
import type { Account } from '../db/models/account.js';
import type { Models } from '../db/models/index.js';

/** An account as tokens and userinfo see it: the record and its role names. */
export interface AccountSnapshot {
  account: Account;
  roles: string[];
}

/** `*`: every account (a role renamed, a bulk change whose accounts are not known). */
export type AccountChange = string;

/**
 * A short-lived per-process copy of accounts with their roles, so userinfo and refresh do not join
 * three tables on every call. Correct across replicas: every write to accounts, account roles or
 * roles (Sequelize hooks, see `watchAccountChanges`) drops the copy here at once and is announced
 * to the other replicas (change notifications), which drop theirs; `ttlMs` bounds what a lost
 * announcement can cost.
 */
export function createAccountCache(models: Models, options: { ttlMs: number; max?: number }) {
  const { Account, AccountRole, Role } = models;
  const MISSING = Symbol('missing');
  const load = async (id: string): Promise<AccountSnapshot | typeof MISSING> => {
    const account = await Account.findByPk(id, {
      include: [{ model: AccountRole, include: [{ model: Role, attributes: ['name'] }] }],
    });
    if (!account) return MISSING;
    const links = (account as unknown as { AccountRoles?: { Role?: { name: string } }[] }).AccountRoles ?? [];
    const roles = [...new Set(links.map((link) => link.Role?.name).filter((n): n is string => Boolean(n)))].sort();
    return { account, roles };
  };
  const cache = new LRUCache<string, AccountSnapshot | typeof MISSING>({
    // The bound by count as `maxSize` (one per entry), not `max`: lru-cache allocates `max`-long
    // arrays up front (≈ 0.8 MiB here, resident while the cache is empty); these grow with use.
    maxSize: options.max ?? 20_000,
    sizeCalculation: () => 1,
    ttl: Math.max(1, options.ttlMs),
    fetchMethod: (id) => load(id),
  });
  const get = async (id: string): Promise<AccountSnapshot | undefined> => {
    let hit: AccountSnapshot | typeof MISSING | undefined;
    try {
      hit = options.ttlMs > 0 ? await cache.fetch(id) : await cache.fetch(id, { forceRefresh: true });
    } catch {
      // A write invalidated the account while it was being read (lru-cache aborts that read, which
      // may have seen the old row), or the read failed: read it once more, past the cache, so the
      // caller gets the current account or the real storage error.
      hit = await load(id);
    }
    return hit === MISSING || hit === undefined ? undefined : hit;
  };
  return {
    get,
    /** The account's role names (none for an unknown account): what tokens and userinfo carry. */
    async rolesOf(id: string): Promise<string[]> {
      return [...((await get(id))?.roles ?? [])];
    },
    invalidate(change: AccountChange): void {
      if (change === '*') cache.clear();
      else cache.delete(change);
    },
  };
}

export type AccountCache = ReturnType<typeof createAccountCache>;

/**
 * Calls `onChange` after every committed write that can change what an account's tokens say:
 * accounts, account roles, roles (renames) and rules (removals). Bulk writes whose accounts are not known say `*`.
 */
export function watchAccountChanges(models: Models, onChange: (change: AccountChange) => void): void {
  const { Account, AccountRole, Role, RoleRule } = models;
  const afterCommit = (options: { transaction?: Transaction | null } | undefined, change: AccountChange): void => {
    // Inside a transaction, only once it is committed: earlier, a reader would re-cache the old row.
    if (options?.transaction) options.transaction.afterCommit(() => onChange(change));
    else onChange(change);
  };
  const idFromWhere = (where: unknown, key: string): AccountChange => {
    const value = (where as Record<string, unknown> | undefined)?.[key];
    return typeof value === 'string' ? value : '*';
  };

  Account.addHook('afterSave', (instance, options) => afterCommit(options, (instance as Account).id));
  Account.addHook('afterDestroy', (instance, options) => afterCommit(options, (instance as Account).id));
  Account.addHook('afterBulkUpdate', (options) => afterCommit(options, idFromWhere(options.where, 'id')));
  Account.addHook('afterBulkDestroy', (options) => afterCommit(options, idFromWhere(options.where, 'id')));

  const roleOwner = (instance: unknown): AccountChange => {
    const id = (instance as { accountId?: unknown }).accountId;
    return typeof id === 'string' ? id : '*';
  };
  AccountRole.addHook('afterSave', (instance, options) => afterCommit(options, roleOwner(instance)));
  AccountRole.addHook('afterDestroy', (instance, options) => afterCommit(options, roleOwner(instance)));
  AccountRole.addHook('afterBulkCreate', (instances, options) => {
    for (const id of new Set((instances as unknown[]).map(roleOwner))) afterCommit(options, id);
  });
  AccountRole.addHook('afterBulkUpdate', (options) => afterCommit(options, idFromWhere(options.where, 'accountId')));
  AccountRole.addHook('afterBulkDestroy', (options) => afterCommit(options, idFromWhere(options.where, 'accountId')));

  // Roles renamed or removed, and rules removed: their account roles go by a foreign-key cascade
  // in PostgreSQL, which no account-role hook sees, so every account is dropped.
  for (const model of [Role, RoleRule] as const) {
    for (const hook of ['afterSave', 'afterDestroy', 'afterBulkUpdate', 'afterBulkDestroy'] as const) {
      (model as typeof Role).addHook(hook, (...args: unknown[]) => {
        const options = (hook.startsWith('afterBulk') ? args[0] : args[1]) as { transaction?: Transaction | null } | undefined;
        afterCommit(options, '*');
      });
    }
  }
}
