import type Provider from 'oidc-provider';
import { Op } from 'sequelize';

import type { Account } from '../db/models/account.js';
import type { Models } from '../db/models/index.js';
import { isDepartmentRemoval, type DingTalkDirectory } from '../dingtalk/index.js';
import { AppError } from '../errors/app-error.js';
import type { Logger } from '../log.js';
import type { AccountIndex } from '../store/account-index.js';
import type { MarkerStore } from '../store/markers.js';
import type { AuditLog } from './audit.js';
import { accountProfile, type ProfileOptions } from './profile.js';
import { type BackchannelDelivery, type LogoutTarget, revokeAccount, type RevocationResult, sendLogouts } from './revocation.js';

/** `statusReason` of an account disabled because its person left the organisation in DingTalk. */
export const LEFT_ORG_REASON = 'dingtalk.left_org';
/** `statusReason` of an account disabled by an admin without a reason of their own. */
export const ADMIN_DISABLED_REASON = 'admin.disabled';

/** Audit event types written here. */
export const AUDIT = {
  disabled: 'account.disabled',
  enabled: 'account.enabled',
  revoked: 'account.revoked',
  synced: 'account.synced',
  backchannelSent: 'logout.backchannel',
  backchannelFailed: 'logout.backchannel_failed',
} as const;

/** How long a positive membership answer spares DingTalk a call on refresh. */
export const DEFAULT_MEMBERSHIP_CACHE_SECONDS = 300;

export interface DeprovisioningDeps {
  models: Models;
  /** The provider serving now (`holder.current`): keys rotate, so never keep one instance. */
  provider: () => Provider;
  /** The adapter's `accountIndex` (store/account-index.ts). */
  accountIndex: AccountIndex;
  /** The DingTalk directory (dingtalk/index.ts). */
  directory: DingTalkDirectory;
  audit: AuditLog;
  logger: Logger;
  /**
   * The organisation (DINGTALK_CORP_ID, or the emulator's in development). Without one, refresh
   * does not re-check membership (and the event inbox ignores every event).
   */
  corpId?: string;
  /** The membership cache (Redis with several replicas). */
  markers: MarkerStore;
  /** Runs after an active account's profile was re-read (role re-evaluation); its failure fails the sync of that account. */
  afterSync?: (account: Account) => Promise<void>;
  /** DingTalk calls in flight during a sync or a department event. Default 4 (DingTalk allows 20/s per API, §6.1). */
  concurrency?: number;
  /** Default {@link DEFAULT_MEMBERSHIP_CACHE_SECONDS}. */
  membershipCacheSeconds?: number;
  /** As at sign-in (LOGIN_EMAIL_FALLBACK_DOMAIN): the identity → account mapping is the same. */
  profile?: ProfileOptions;
}

/** Who did it, for the audit log: `dingtalk:event`, `dingtalk:sync`, `cli:<user>`, an admin's account id… */
export interface ActorOptions {
  actor: string;
}

/** Logout tokens to send later instead of now: the event inbox stores the targets before anything is revoked. */
export type DeferLogouts = (accountId: string, targets: LogoutTarget[]) => Promise<void>;

/** What re-reading one account from DingTalk did. */
export type SyncOutcome = 'updated' | 'unchanged' | 'disabled' | 'skipped';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * DingTalk → accounts after the login: a person who leaves the organisation loses access at once
 * (event `user_leave_org`, the `accounts sync` sweep, or the membership re-check when a refresh
 * token is used); profile and department changes are copied (`user_modify_org`, `org_dept_*`);
 * admins revoke, disable and enable accounts. Each change is audited.
 */
export function createDeprovisioning(deps: DeprovisioningDeps) {
  const { models, directory, audit, logger, markers, corpId } = deps;
  const { Account } = models;
  const concurrency = Math.max(1, deps.concurrency ?? 4);
  const membershipCacheSeconds = deps.membershipCacheSeconds ?? DEFAULT_MEMBERSHIP_CACHE_SECONDS;
  const memberKey = (accountId: string): string => `dingtalk:member:${accountId}`;

  /** Finds an account by our id (`sub`), DingTalk unionId or DingTalk userid. */
  async function findAccount(ref: string): Promise<Account | null> {
    if (UUID.test(ref)) {
      const byId = await Account.findByPk(ref);
      if (byId) return byId;
    }
    const byUnionId = await Account.findOne({ where: { unionId: ref } });
    if (byUnionId) return byUnionId;
    const byUserId = await Account.findAll({ where: { userId: ref, ...(corpId === undefined ? {} : { corpId }) }, limit: 2 });
    if (byUserId.length > 1) {
      throw new AppError('account.ambiguous', `several accounts have the DingTalk userid ${ref}: use the account id`, {
        status: 409,
      });
    }
    return byUserId[0] ?? null;
  }

  /**
   * Ends every session and grant of the account (back-channel logout included, or handed to
   * `deferLogouts`) and audits it.
   */
  async function revoke(
    accountId: string,
    options: ActorOptions & { reason: string; deferLogouts?: DeferLogouts },
  ): Promise<RevocationResult> {
    const defer = options.deferLogouts;
    const result = await revokeAccount(deps.provider(), deps.accountIndex, accountId, {
      reason: options.reason,
      ...(defer ? { deferLogouts: (targets: LogoutTarget[]) => defer(accountId, targets) } : {}),
    });
    const { actor, reason } = options;
    if (result.sessions > 0 || result.grants > 0 || result.backchannel.length > 0 || result.deferred > 0) {
      await audit.record({
        type: AUDIT.revoked,
        actor,
        accountId,
        details: {
          reason,
          sessions: result.sessions,
          grants: result.grants,
          backchannelSent: result.backchannel.length - result.failures.length,
          backchannelFailed: result.failures.length,
          ...(result.deferred > 0 ? { backchannelQueued: result.deferred } : {}),
        },
      });
    }
    await auditDeliveries(accountId, result.backchannel, { actor, reason });
    if (result.failures.length > 0) {
      logger.warn({ accountId, failures: result.failures }, 'back-channel logout failed for some apps');
    }
    return result;
  }

  async function auditDeliveries(
    accountId: string,
    deliveries: readonly BackchannelDelivery[],
    options: ActorOptions & { reason: string },
  ) {
    const { actor, reason } = options;
    for (const delivery of deliveries) {
      await audit.record({
        type: delivery.ok ? AUDIT.backchannelSent : AUDIT.backchannelFailed,
        actor,
        accountId,
        clientId: delivery.clientId,
        details: { reason, sid: delivery.sid, ...(delivery.error === undefined ? {} : { error: delivery.error }) },
      });
    }
  }

  /**
   * Sends logout tokens that {@link revoke} deferred (the event inbox's slow part). Each success is
   * audited at once; a failure is returned, and audited only when `final` (no retry left).
   */
  async function sendDeferredLogouts(
    accountId: string,
    targets: readonly LogoutTarget[],
    options: ActorOptions & { reason: string; final: boolean },
  ): Promise<BackchannelDelivery[]> {
    const deliveries = await sendLogouts(deps.provider(), accountId, targets);
    await auditDeliveries(
      accountId,
      deliveries.filter((delivery) => delivery.ok || options.final),
      options,
    );
    return deliveries;
  }

  /** Disables the account (idempotent) and revokes everything it has. */
  async function disable(
    account: Account,
    options: ActorOptions & { reason?: string; source?: string; deferLogouts?: DeferLogouts },
  ): Promise<RevocationResult> {
    const reason = options.reason ?? ADMIN_DISABLED_REASON;
    const [changed] = await Account.update(
      { status: 'disabled', statusReason: reason.slice(0, 256) },
      {
        where: { id: account.id, status: 'active' },
      },
    );
    if (changed > 0) {
      account.set({ status: 'disabled', statusReason: reason.slice(0, 256) });
      await audit.record({
        type: AUDIT.disabled,
        actor: options.actor,
        accountId: account.id,
        details: { reason, ...(options.source === undefined ? {} : { source: options.source }) },
      });
      logger.info({ accountId: account.id, reason, source: options.source }, 'account disabled');
    }
    await markers.delete(memberKey(account.id)).catch(() => undefined);
    return revoke(account.id, { actor: options.actor, reason, ...(options.deferLogouts ? { deferLogouts: options.deferLogouts } : {}) });
  }

  /** Enables a disabled account; false when it was not disabled. */
  async function enable(account: Account, options: ActorOptions & { source?: string }): Promise<boolean> {
    const previousReason = account.statusReason;
    const [changed] = await Account.update(
      { status: 'active', statusReason: null },
      {
        where: { id: account.id, status: 'disabled' },
      },
    );
    if (changed === 0) return false;
    account.set({ status: 'active', statusReason: null });
    await audit.record({
      type: AUDIT.enabled,
      actor: options.actor,
      accountId: account.id,
      details: { previousReason, ...(options.source === undefined ? {} : { source: options.source }) },
    });
    return true;
  }

  /**
   * Re-reads one account from DingTalk (`user/get` by its userid). Not found (60121) ⇒ the person
   * left: disable and revoke. `reactivate` (contact events) re-enables an account that was
   * disabled only because its person had left, once DingTalk lists them again.
   */
  async function syncAccount(account: Account, options: ActorOptions & { source: string; reactivate?: boolean }): Promise<SyncOutcome> {
    if (!account.userId) return 'skipped';
    // A member's directory record, departments with ancestry included: the same as at login.
    const identity = await directory.member(account.userId);
    if (identity === null) {
      if (account.status !== 'active') return 'unchanged';
      await disable(account, { actor: options.actor, reason: LEFT_ORG_REASON, source: options.source });
      return 'disabled';
    }
    if (identity.unionId !== account.unionId) {
      // The userid now names someone else: never copy another person's profile onto this account.
      logger.warn({ accountId: account.id, userId: account.userId }, 'DingTalk userid belongs to another unionId; not synced');
      return 'skipped';
    }

    // The one identity → account mapping (profile.ts), as at sign-in: what the directory record does
    // not carry (users/me nickname and avatar, a personal email) stays as the login stored it.
    account.set(accountProfile(identity, account, deps.profile));
    // Sequelize compares with deep equality, so an unchanged department list is not "changed".
    const changed = account.changed() || [];
    if (changed.length > 0) {
      await account.save();
      await audit.record({
        type: AUDIT.synced,
        actor: options.actor,
        accountId: account.id,
        details: { source: options.source, changed },
      });
    }

    let enabled = false;
    if (options.reactivate && account.status === 'disabled' && account.statusReason === LEFT_ORG_REASON) {
      enabled = await enable(account, { actor: options.actor, source: options.source });
    }
    if (account.status === 'active') await deps.afterSync?.(account);
    return changed.length > 0 || enabled ? 'updated' : 'unchanged';
  }

  /** Accounts of the organisation with these DingTalk userids. */
  async function accountsOfUsers(userIds: readonly string[]): Promise<Account[]> {
    if (userIds.length === 0 || corpId === undefined) return [];
    return Account.findAll({ where: { corpId, userId: { [Op.in]: [...userIds] } }, order: [['id', 'ASC']] });
  }

  /**
   * The urgent part of a leave event (`user_leave_org`): each account of these userids is disabled
   * and every session and grant revoked, with no call to DingTalk or to an app (the logout tokens
   * go to `deferLogouts`). Idempotent: a second call finds nothing left to do.
   */
  async function cutOff(userIds: readonly string[], options: { source: string; deferLogouts: DeferLogouts }): Promise<number> {
    const accounts = await accountsOfUsers(userIds);
    await forEachLimited(accounts, concurrency, async (account) => {
      await disable(account, {
        actor: 'dingtalk:event',
        reason: LEFT_ORG_REASON,
        source: options.source,
        deferLogouts: options.deferLogouts,
      });
    });
    return accounts.length;
  }

  /** A profile event (`user_add_org`, `user_modify_org`, `user_active_org`): re-read these people from DingTalk. */
  async function resyncUsers(userIds: readonly string[], options: { source: string }): Promise<void> {
    const accounts = await accountsOfUsers(userIds);
    await forEachLimited(accounts, concurrency, async (account) => {
      await syncAccount(account, { actor: 'dingtalk:event', source: options.source, reactivate: true });
    });
  }

  /**
   * A department event (`org_dept_*`): the department is read again (which refreshes the client's
   * cached name), then its members and the members of the departments below it are re-read.
   */
  async function resyncDepartments(departmentIds: readonly number[], options: { source: string }): Promise<void> {
    if (corpId === undefined) return;
    for (const deptId of departmentIds) {
      if (!isDepartmentRemoval(options.source)) await directory.refreshDepartment(deptId);
      // Its members, and the members of departments below it (their `path` names it).
      const members = await Account.findAll({
        where: {
          corpId,
          status: 'active',
          [Op.or]: [
            { departments: { [Op.contains]: [{ id: deptId }] } as never },
            { departments: { [Op.contains]: [{ ancestors: [deptId] }] } as never },
          ],
        },
        order: [['id', 'ASC']],
      });
      await forEachLimited(members, concurrency, async (account) => {
        await syncAccount(account, { actor: 'dingtalk:event', source: options.source });
      });
    }
  }

  /**
   * The membership re-check for a refresh-token use (call it from `findAccount` when the token is a
   * RefreshToken): with an organisation configured, asks DingTalk whether the person still belongs
   * to it (`getbyunionid`). Not found ⇒ disable, revoke, false. DingTalk unreachable or failing ⇒
   * true (logged): an outage must not sign everyone out. A positive answer is cached per account for
   * `membershipCacheSeconds`, so a burst of refreshes costs one DingTalk call.
   */
  async function checkMembershipOnRefresh(accountId: string): Promise<boolean> {
    if (corpId === undefined) return true;
    if (await markers.has(memberKey(accountId)).catch(() => false)) return true;
    const account = await Account.findByPk(accountId);
    if (!account || account.status !== 'active') return false;
    let member: boolean;
    try {
      member = await directory.isMember(account.unionId);
    } catch (error) {
      logger.warn({ err: error, accountId }, 'membership re-check on refresh failed; allowing the refresh');
      return true;
    }
    if (!member) {
      await disable(account, { actor: 'dingtalk:refresh', reason: LEFT_ORG_REASON, source: 'refresh_token' });
      return false;
    }
    await markers.set(memberKey(accountId), membershipCacheSeconds).catch((error: unknown) => {
      logger.warn({ err: error }, 'membership cache write failed');
    });
    return true;
  }

  return {
    findAccount,
    revoke,
    disable,
    enable,
    syncAccount,
    cutOff,
    resyncUsers,
    resyncDepartments,
    sendDeferredLogouts,
    checkMembershipOnRefresh,
  };
}

export type Deprovisioning = ReturnType<typeof createDeprovisioning>;

/** Runs `run` over `items`, at most `limit` at a time; every item is tried, then the first failure is thrown. */
async function forEachLimited<T>(items: readonly T[], limit: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const failures: unknown[] = [];
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      try {
        await run(item);
      } catch (error) {
        failures.push(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failures.length > 0) throw failures[0];
}
