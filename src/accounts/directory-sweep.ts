import { Op, type Sequelize, UniqueConstraintError } from 'sequelize';
import type { Account } from '../db/models/account.js';
import type { Models } from '../db/models/index.js';
import type { DingTalkDirectory, UpstreamIdentity } from '../dingtalk/index.js';
import { AppError } from '../errors/app-error.js';
import type { Logger } from '../log.js';
import type { AuditLog } from './audit.js';
import { type Deprovisioning, LEFT_ORG_REASON } from './deprovisioning.js';
import { accountProfile, newAccount, type ProfileOptions } from './profile.js';

/** Audit event type of a finished sweep; its details are the {@link SweepSummary}. */
export const SWEEP_AUDIT_TYPE = 'dingtalk.sweep';
/** Audit event type of an account the sweep created ahead of its first sign-in (DINGTALK_PROVISION=directory). */
export const PROVISIONED_AUDIT_TYPE = 'account.provisioned';

/** Who gets an account: people who signed in (`login`, the default) or everyone the directory lists (`directory`). */
export type ProvisionMode = 'login' | 'directory';

/** Where a sweep is, for a progress bar: departments found, then departments read. */
export interface SweepProgress {
  phase: 'departments' | 'members' | 'leavers';
  done: number;
  /** Known so far (the department count grows while the tree is read). */
  total: number;
  /** People read so far. */
  members: number;
}

/** The figures of one sweep, as recorded in the audit log and shown by the console and `accounts sync`. */
export interface SweepSummary {
  trigger: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  /** False when a directory read failed: nobody was then disabled for not being listed (§11.7/5). */
  complete: boolean;
  departments: number;
  /** Distinct people the directory listed. */
  members: number;
  /** DingTalk's own head count (`user/count`), a cross-check of `members`; null when it could not be read. */
  organisationCount: number | null;
  /** Accounts compared with a directory record. */
  checked: number;
  updated: number;
  unchanged: number;
  /** Created ahead of their first sign-in (DINGTALK_PROVISION=directory). */
  created: number;
  /** Disabled because their person had left, and listed again: enabled. */
  reactivated: number;
  /** Not listed, confirmed gone by DingTalk (60121): disabled and revoked. */
  disabled: number;
  /** Active accounts not listed whose departure could not be confirmed because the walk was partial. */
  leaversUnconfirmed: number;
  /** DingTalk calls the sweep made (reads of departments and members, confirmations, the head count). */
  calls: number;
  failed: number;
  failures: { ref: string; code: string }[];
}

export interface DirectorySweepDeps {
  sequelize: Sequelize;
  models: Models;
  /** The directory at the call budget's background share (dingtalk/index.ts). */
  directory: DingTalkDirectory;
  /** Disabling, revoking and one-account re-reads (the confirmation of a leaver). */
  deprovisioning: Pick<Deprovisioning, 'disable' | 'enable' | 'syncAccount'>;
  audit: AuditLog;
  logger: Logger;
  /** The organisation; without one there is no directory to sweep. */
  corpId?: string;
  /** Role re-evaluation (and its access changes) of an account whose record changed or that was created. */
  afterSync?: (account: Account) => Promise<void>;
  /** DINGTALK_PROVISION. Default `login`. */
  provision?: ProvisionMode;
  profile?: ProfileOptions;
}

/** A sweep that could not start because another replica (or command) runs one. */
export class SweepBusyError extends AppError {
  constructor() {
    super('sweep.busy', 'a directory sweep is already running (another replica or command)', { status: 409 });
  }
}

/**
 * The one lock: a session-level PostgreSQL advisory lock every replica sharing the database sees,
 * held on one pooled connection outside any transaction (a transaction open for the whole sweep
 * would hold back vacuum and meet idle-in-transaction timeouts); gone with its connection.
 */
const LOCK_SQL = "SELECT pg_try_advisory_lock(hashtext('dingtalk-oidc:directory-sweep')) AS locked";
const UNLOCK_SQL = "SELECT pg_advisory_unlock(hashtext('dingtalk-oidc:directory-sweep'))";

/** The raw pg connection the pool hands out (only `query` is used). */
interface RawConnection {
  query(sql: string): Promise<{ rows: { locked?: boolean }[] }>;
}

const MAX_FAILURES_KEPT = 50;

/**
 * The directory sweep (issue #13): reads the whole organisation page by page (dingtalk-api.md §11,
 * through the shared call budget) and reconciles the accounts with it, through the same identity →
 * account mapping as sign-in (profile.ts):
 * - a listed person's account is refreshed; a changed record has its roles re-evaluated; one disabled
 *   only because its person had left is enabled again;
 * - with DINGTALK_PROVISION=directory, a listed person without an account gets one (roles from the
 *   rules), so roles and access can be arranged before the first sign-in;
 * - an active account not listed is confirmed with one user/get: gone (60121) ⇒ disabled and every
 *   session and grant revoked. After a partial walk (a read failed) nobody is disabled (§11.7/5).
 * One sweep at a time across replicas (a PostgreSQL advisory lock); each finished sweep is recorded in
 * the audit log (`dingtalk.sweep`) with its figures.
 */
export function createDirectorySweep(deps: DirectorySweepDeps) {
  const { sequelize, models, directory, audit, logger, corpId } = deps;
  const { Account } = models;
  const provision = deps.provision ?? 'login';

  async function run(options: { actor: string; trigger: string; onProgress?: (progress: SweepProgress) => void }): Promise<SweepSummary> {
    const started = new Date();
    const summary: SweepSummary = {
      trigger: options.trigger,
      startedAt: started.toISOString(),
      finishedAt: started.toISOString(),
      durationMs: 0,
      complete: true,
      departments: 0,
      members: 0,
      organisationCount: null,
      checked: 0,
      updated: 0,
      unchanged: 0,
      created: 0,
      reactivated: 0,
      disabled: 0,
      leaversUnconfirmed: 0,
      calls: 0,
      failed: 0,
      failures: [],
    };
    const fail = (ref: string, error: unknown) => {
      summary.failed += 1;
      if (summary.failures.length < MAX_FAILURES_KEPT)
        summary.failures.push({ ref, code: error instanceof AppError ? error.code : 'server_error' });
    };
    const progress = (phase: SweepProgress['phase'], done: number, total: number) => {
      try {
        options.onProgress?.({ phase, done, total, members: summary.members });
      } catch {
        // a progress display never breaks a sweep
      }
    };

    const seen = new Set<string>();
    for await (const step of directory.walk()) {
      if (step.kind === 'departments') {
        summary.calls += 1;
        summary.departments = step.found;
        progress('departments', step.found, step.found);
      } else if (step.kind === 'failed') {
        summary.calls += 1;
        summary.complete = false;
        fail(`department ${step.departmentId}`, step.error);
        logger.warn({ err: step.error, departmentId: step.departmentId, stage: step.stage }, 'directory sweep: a read failed');
      } else {
        summary.calls += 1;
        summary.members += step.members.length;
        await reconcilePage(step.members, seen, summary, options.actor, fail);
        progress('members', step.departmentsRead, step.departmentsTotal);
      }
    }

    // Absent is not proof of departure (§11.7/5): each active account not listed is asked about once.
    const active = await Account.findAll({
      attributes: ['id'],
      where: { status: 'active', userId: { [Op.ne]: null }, ...(corpId === undefined ? {} : { corpId }) },
    });
    const unlisted = active.filter((account) => !seen.has(account.id)).map((account) => account.id);
    if (!summary.complete) {
      summary.leaversUnconfirmed = unlisted.length;
    } else {
      for (const [index, id] of unlisted.entries()) {
        progress('leavers', index, unlisted.length);
        const account = await Account.findByPk(id);
        if (!account || account.status !== 'active') continue;
        summary.calls += 1;
        try {
          const outcome = await deps.deprovisioning.syncAccount(account, { actor: options.actor, source: 'sweep' });
          if (outcome === 'disabled') summary.disabled += 1;
          else if (outcome === 'updated') summary.updated += 1;
          else summary.unchanged += 1;
          summary.checked += 1;
        } catch (error) {
          fail(account.id, error);
          logger.warn({ err: error, accountId: account.id }, 'directory sweep: confirming a leaver failed');
        }
      }
    }

    try {
      summary.calls += 1;
      summary.organisationCount = await directory.memberCount();
    } catch (error) {
      logger.warn({ err: error }, 'directory sweep: the head count could not be read');
    }
    const finished = new Date();
    summary.finishedAt = finished.toISOString();
    summary.durationMs = finished.getTime() - started.getTime();
    await audit.record({ type: SWEEP_AUDIT_TYPE, actor: options.actor, details: { ...summary } });
    logger.info({ ...summary, failures: undefined }, 'directory sweep finished');
    return summary;
  }

  /** One page of listed people against their accounts. */
  async function reconcilePage(
    members: readonly UpstreamIdentity[],
    seen: Set<string>,
    summary: SweepSummary,
    actor: string,
    fail: (ref: string, error: unknown) => void,
  ): Promise<void> {
    if (members.length === 0) return;
    const accounts = await Account.findAll({ where: { unionId: { [Op.in]: members.map((member) => member.unionId) } } });
    const byUnionId = new Map(accounts.map((account) => [account.unionId, account]));
    for (const identity of members) {
      const account = byUnionId.get(identity.unionId);
      try {
        if (account) {
          seen.add(account.id);
          summary.checked += 1;
          const outcome = await refresh(account, identity, actor);
          if (outcome === 'reactivated') summary.reactivated += 1;
          else if (outcome === 'updated') summary.updated += 1;
          else summary.unchanged += 1;
        } else if (provision === 'directory' && identity.userId !== undefined) {
          const created = await create(identity, actor);
          if (created) {
            seen.add(created.id);
            summary.created += 1;
          }
        }
      } catch (error) {
        fail(account?.id ?? identity.userId ?? identity.unionId, error);
        logger.warn({ err: error, accountId: account?.id }, 'directory sweep: an account could not be reconciled');
      }
    }
  }

  async function refresh(account: Account, identity: UpstreamIdentity, actor: string): Promise<'updated' | 'unchanged' | 'reactivated'> {
    account.set(accountProfile(identity, account, deps.profile));
    const changed = account.changed() || [];
    if (changed.length > 0) {
      await account.save();
      await audit.record({ type: 'account.synced', actor, accountId: account.id, details: { source: 'sweep', changed } });
    }
    let reactivated = false;
    if (account.status === 'disabled' && account.statusReason === LEFT_ORG_REASON) {
      reactivated = await deps.deprovisioning.enable(account, { actor, source: 'sweep' });
    }
    // Changed records re-evaluate roles; an unchanged one keeps what it has.
    if (account.status === 'active' && (changed.length > 0 || reactivated)) await deps.afterSync?.(account);
    if (reactivated) return 'reactivated';
    return changed.length > 0 ? 'updated' : 'unchanged';
  }

  async function create(identity: UpstreamIdentity, actor: string): Promise<Account | undefined> {
    let account: Account;
    try {
      account = await Account.create(newAccount(accountProfile(identity, null, deps.profile), identity));
    } catch (error) {
      // Signed in (or created by another sweep) meanwhile: theirs stands.
      if (error instanceof UniqueConstraintError) return undefined;
      throw error;
    }
    await audit.record({
      type: PROVISIONED_AUDIT_TYPE,
      actor,
      accountId: account.id,
      details: { source: 'sweep', userId: identity.userId },
    });
    await deps.afterSync?.(account);
    return account;
  }

  return {
    /**
     * Runs one sweep, unless one is running anywhere (then {@link SweepBusyError}). Without an
     * organisation there is no directory: an `AppError` `sweep.no_organisation`.
     */
    async sweep(options: { actor: string; trigger: string; onProgress?: (progress: SweepProgress) => void }): Promise<SweepSummary> {
      if (corpId === undefined) {
        throw new AppError(
          'sweep.no_organisation',
          'no DingTalk organisation is configured (DINGTALK_CORP_ID): there is no directory to sweep',
          {
            status: 409,
          },
        );
      }
      // The lock's connection does nothing else meanwhile; the sweep's own queries use the pool.
      const connection = await sequelize.connectionManager.getConnection({ type: 'write' });
      const lock = connection as unknown as RawConnection;
      try {
        const { rows } = await lock.query(LOCK_SQL);
        if (!rows[0]?.locked) throw new SweepBusyError();
        try {
          return await run(options);
        } finally {
          await lock.query(UNLOCK_SQL).catch(() => undefined);
        }
      } finally {
        sequelize.connectionManager.releaseConnection(connection);
      }
    },

    /** The last finished sweep's figures, from the audit log; null before the first. */
    async last(): Promise<(SweepSummary & { actor: string | null }) | null> {
      const event = await models.AuditEvent.findOne({ where: { type: SWEEP_AUDIT_TYPE }, order: [['id', 'DESC']] });
      if (!event) return null;
      return { ...(event.details as unknown as SweepSummary), actor: event.actor };
    },
  };
}

export type DirectorySweep = ReturnType<typeof createDirectorySweep>;
