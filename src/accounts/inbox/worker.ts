import { Op, type Sequelize, type Transaction } from 'sequelize';

import type { Models } from '../../db/models/index.js';
import type { InboxEvent, PendingLogout } from '../../db/models/inbox-event.js';
import { directoryChangeOf } from '../../dingtalk/index.js';
import { AppError } from '../../errors/app-error.js';
import type { Logger } from '../../log.js';
import { type Deprovisioning, LEFT_ORG_REASON } from '../deprovisioning.js';
import type { EventInbox, InboxTimings } from './types.js';
import { NO_USER_REASON, type CutOff } from './urgent.js';

export interface WorkerDeps {
  sequelize: Sequelize;
  models: Models;
  deprovisioning: Deprovisioning;
  logger: Logger;
  timings: InboxTimings;
  /** The urgent part of a leave (urgent.ts), redone here when a crash left it undone. */
  cutOff: CutOff;
}

export type InboxWorker = Pick<EventInbox, 'startWorker' | 'stop' | 'wake' | 'runOnce' | 'prune'>;

/**
 * The slow part — logout tokens to the apps, profile and department re-reads from DingTalk — is
 * done by a worker in every server process: it takes one due item at a time with
 * `SELECT … FOR UPDATE SKIP LOCKED` and keeps that row lock while it works, so no two workers
 * (replicas) ever hold one item, and an item whose worker died (its connection closed) is free again
 * at once. Failures are retried with exponential backoff, then marked failed with the reason.
 */
export function createInboxWorker(deps: WorkerDeps): InboxWorker {
  const { sequelize, models, deprovisioning, logger, timings, cutOff } = deps;
  const { InboxEvent } = models;

  async function runOnce(): Promise<boolean> {
    return sequelize.transaction(async (transaction) => {
      const item = await InboxEvent.findOne({
        where: { status: 'pending', nextAttemptAt: { [Op.lte]: new Date() } },
        order: [['nextAttemptAt', 'ASC']],
        lock: transaction.LOCK.UPDATE,
        skipLocked: true,
        transaction,
      });
      if (!item) return false;
      await work(item, transaction);
      return true;
    });
  }

  /** The slow part of one item (and its urgent part, if a crash left it undone), under the item's row lock. */
  async function work(item: InboxEvent, transaction: Transaction): Promise<void> {
    const attempt = item.attempts + 1;
    const final = attempt >= timings.maxAttempts;
    const change = item.type === null ? undefined : directoryChangeOf(item.type);
    let failure: string | undefined;
    let remaining: PendingLogout[] = [];
    // A leave naming nobody, with no logout tokens left to send, can never be done (a retry of one).
    const namesNobody = change === 'leave' && item.userIds.length === 0 && item.logouts.length === 0;
    // The urgent part counts as done only once cutOff has succeeded: a failed redo must be redone.
    let urgentOk = item.urgentDoneAt !== null || change !== 'leave';
    try {
      if (change === undefined)
        throw new AppError('inbox.unknown_type', item.type === null ? 'the event could not be read' : 'unknown event type');
      if (namesNobody) throw new AppError('inbox.no_user', NO_USER_REASON);
      if (item.urgentDoneAt === null && change === 'leave') {
        await cutOff(item.id, item.type!, item.userIds, transaction);
        urgentOk = true;
        await item.reload({ transaction });
      }
      if (change === 'leave') {
        remaining = await deliverLogouts(item, final);
        if (remaining.length > 0) failure = `logout token not delivered to ${[...new Set(remaining.map((l) => l.clientId))].join(', ')}`;
      } else if (change === 'profile') {
        await deprovisioning.resyncUsers(item.userIds, { source: item.type! });
      } else {
        await deprovisioning.resyncDepartments(item.departmentIds, { source: item.type! });
      }
    } catch (error) {
      failure = describe(error);
      if (change === 'leave') remaining = item.logouts;
    }

    const now = new Date();
    const base = { attempts: attempt, urgentDoneAt: urgentOk ? (item.urgentDoneAt ?? now) : null, logouts: remaining };
    if (failure === undefined) {
      await item.update({ ...base, status: 'done', reason: null, finishedAt: now, nextAttemptAt: now }, { transaction });
      logger.info({ eventId: item.id, type: item.type, attempt }, 'DingTalk event done');
    } else if (final || change === undefined || namesNobody) {
      await item.update(
        { ...base, status: 'failed', reason: failure.slice(0, 1000), finishedAt: now, nextAttemptAt: now },
        { transaction },
      );
      logger.warn({ eventId: item.id, type: item.type, attempt, reason: failure }, 'DingTalk event failed: no retry left');
    } else {
      const delay = Math.min(timings.backoffMaxMs, timings.backoffBaseMs * 2 ** (attempt - 1));
      await item.update({ ...base, reason: failure.slice(0, 1000), nextAttemptAt: new Date(now.getTime() + delay) }, { transaction });
      logger.warn({ eventId: item.id, type: item.type, attempt, retryInMs: delay, reason: failure }, 'DingTalk event failed: will retry');
    }
  }

  /** Sends the item's logout tokens (each app once per session); returns those not delivered. */
  async function deliverLogouts(item: InboxEvent, final: boolean): Promise<PendingLogout[]> {
    const byAccount = new Map<string, Map<string, PendingLogout>>();
    for (const logout of item.logouts) {
      const targets = byAccount.get(logout.accountId) ?? new Map<string, PendingLogout>();
      targets.set(`${logout.clientId}\u0000${logout.sid ?? ''}`, logout);
      byAccount.set(logout.accountId, targets);
    }
    const remaining: PendingLogout[] = [];
    for (const [accountId, targets] of byAccount) {
      const deliveries = await deprovisioning.sendDeferredLogouts(accountId, [...targets.values()], {
        actor: 'dingtalk:event',
        reason: LEFT_ORG_REASON,
        final,
      });
      for (const delivery of deliveries) {
        if (!delivery.ok)
          remaining.push({ accountId, clientId: delivery.clientId, ...(delivery.sid === undefined ? {} : { sid: delivery.sid }) });
      }
    }
    return remaining;
  }

  let stopping = false;
  let loop: Promise<void> | undefined;
  let wakeUp: (() => void) | undefined;
  let lastPrune = 0;

  function wake(): void {
    wakeUp?.();
  }

  function pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wakeUp = undefined;
        resolve();
      }
      wakeUp = done;
    });
  }

  function startWorker(): void {
    if (loop) return;
    stopping = false;
    loop = (async () => {
      let failures = 0;
      // oxlint-disable-next-line no-unmodified-loop-condition -- stop() sets it while the loop awaits
      while (!stopping) {
        let worked = false;
        try {
          worked = await runOnce();
          if (Date.now() - lastPrune >= timings.pruneEveryMs) {
            lastPrune = Date.now();
            await prune();
          }
          failures = 0;
        } catch (error) {
          failures += 1;
          // PostgreSQL down: say so once in a while, not every poll.
          if (failures === 1 || failures % 30 === 0) logger.warn({ err: error, failures }, 'event inbox worker: cannot take an item');
        }
        if (!worked && !stopping)
          await pause(failures === 0 ? timings.pollMs : Math.min(60_000, timings.pollMs * 2 ** Math.min(failures, 5)));
      }
    })();
  }

  async function stop(): Promise<void> {
    stopping = true;
    wake();
    await loop;
    loop = undefined;
  }

  async function prune(): Promise<number> {
    const now = Date.now();
    const deleted = await InboxEvent.destroy({
      where: {
        [Op.or]: [
          { status: { [Op.in]: ['done', 'ignored'] }, finishedAt: { [Op.lt]: new Date(now - timings.doneRetentionMs) } },
          { status: 'failed', finishedAt: { [Op.lt]: new Date(now - timings.failedRetentionMs) } },
        ],
      },
    });
    if (deleted > 0) logger.info({ deleted }, 'event inbox pruned');
    return deleted;
  }

  return { startWorker, stop, wake, runOnce, prune };
}

/** A failure in a few words for the item's `reason`: our code and message, never a stack. */
function describe(error: unknown): string {
  if (error instanceof AppError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}
