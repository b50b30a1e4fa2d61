import { createHash } from 'node:crypto';
import { Op, QueryTypes, type Sequelize, type Transaction } from 'sequelize';

import type { Models } from '../db/models/index.js';
import type { InboxEvent, InboxStatus, PendingLogout } from '../db/models/inbox-event.js';
import {
  directoryChangeOf,
  isUnreadable,
  type DirectoryEvent,
  type EventAck,
  type EventSink,
  type UnreadableEvent,
} from '../dingtalk/index.js';
import { AppError } from '../errors/app-error.js';
import type { Logger } from '../log.js';
import { type Deprovisioning, LEFT_ORG_REASON } from './deprovisioning.js';
import type { LogoutTarget } from './revocation.js';

/** What became of one event handed to {@link EventInbox.receive} (for `/metrics` and logs). */
export type ReceiveOutcome =
  | 'recorded'
  | 'duplicate'
  | 'unreadable'
  | 'unknown_type'
  /** A leave that names nobody (no userId): recorded as failed, nothing to cut off. */
  | 'no_user'
  | 'other_corp'
  | 'no_corp'
  | 'later';

/** Why a leave event that names nobody is failed (the Stream leave data is unverified, dingtalk-api.md §10.8). */
const NO_USER_REASON = 'leave event has no userId';

export interface InboxTimings {
  /** How often an idle worker looks for due items (other replicas' items; its own wake it at once). Default 2 s. */
  pollMs: number;
  /** Attempts of the slow part before an item is marked failed. Default 10 (about 3 hours of backoff). */
  maxAttempts: number;
  /** The first retry waits this long, each next one twice as long … Default 30 s. */
  backoffBaseMs: number;
  /** … up to this. Default 1 hour. */
  backoffMaxMs: number;
  /**
   * How long after it was recorded an item whose urgent part never finished (the process died in
   * between, and DingTalk did not send it again) is taken over by a worker. Default 60 s.
   */
  urgentGraceMs: number;
  /** Done and ignored items are deleted after this long. Default 30 days. */
  doneRetentionMs: number;
  /** Failed items are deleted after this long. Default 90 days. */
  failedRetentionMs: number;
  /** How often a worker prunes. Default 1 hour. */
  pruneEveryMs: number;
}

export const DEFAULT_INBOX_TIMINGS: InboxTimings = {
  pollMs: 2_000,
  maxAttempts: 10,
  backoffBaseMs: 30_000,
  backoffMaxMs: 60 * 60_000,
  urgentGraceMs: 60_000,
  doneRetentionMs: 30 * 24 * 60 * 60_000,
  failedRetentionMs: 90 * 24 * 60 * 60_000,
  pruneEveryMs: 60 * 60_000,
};

export interface EventInboxDeps {
  sequelize: Sequelize;
  models: Models;
  deprovisioning: Deprovisioning;
  logger: Logger;
  /** The organisation whose events are handled (DINGTALK_CORP_ID, or the emulator's); without one, every event is ignored. */
  corpId?: string;
  /** Called once per event received, for `/metrics`. */
  onReceived?: (event: { transport: string; type: string; outcome: ReceiveOutcome }) => void;
  timings?: Partial<InboxTimings>;
}

/** One inbox item as operators see it (console, API, CLI). */
export interface InboxItem {
  id: string;
  transport: string;
  type: string | null;
  corpId: string | null;
  userIds: string[];
  departmentIds: number[];
  occurredAt: Date | null;
  status: InboxStatus;
  reason: string | null;
  urgentDone: boolean;
  pendingLogouts: number;
  attempts: number;
  nextAttemptAt: Date | null;
  finishedAt: Date | null;
  receivedAt: Date;
  updatedAt: Date;
}

export interface InboxPage {
  items: InboxItem[];
  total: number;
}

export interface EventInbox {
  /** The {@link EventSink} both transports (HTTP push, Stream) hand their events to. */
  receive: EventSink;
  /** Starts this process's worker (every server process runs one); idempotent. */
  startWorker(): void;
  /** Stops the worker after the item in hand (drain on SIGTERM). */
  stop(): Promise<void>;
  /** Makes an idle worker look for due items now. */
  wake(): void;
  /** Takes one due item and works on it; false when none is due. What the worker runs in a loop. */
  runOnce(): Promise<boolean>;
  /** Deletes finished items past their retention; returns how many. */
  prune(): Promise<number>;
  list(filter?: { status?: InboxStatus; limit?: number; offset?: number }): Promise<InboxPage>;
  get(id: string): Promise<InboxItem | null>;
  /**
   * Puts a failed (or waiting) item back in line, due now, with its attempts reset, and wakes the
   * worker; the caller audits it (admin/ops/events.ts). Throws `inbox.not_found` (404) or
   * `inbox.not_retryable` (409: unreadable, or done/ignored).
   */
  retry(id: string): Promise<{ item: InboxItem; previous: InboxItem }>;
  counts(): Promise<Record<InboxStatus, number>>;
}

/** Longest id stored as is; longer ones (never seen) are digested. */
const MAX_ID_LENGTH = 200;
/** Largest payload stored as received; beyond, a prefix is kept as a string. */
const MAX_PAYLOAD_CHARS = 64 * 1024;

/**
 * The durable event inbox. {@link EventInbox.receive} records every DingTalk event in PostgreSQL
 * (unique by event id: a redelivery is a no-op) and does the urgent part of a leave — disable the
 * account, revoke its sessions and grants, store the logout tokens still to send — before it
 * answers `SUCCESS`; an event that cannot be read, is of an unknown type or of another organisation
 * is recorded as failed or ignored and acknowledged too. Only a transient failure (PostgreSQL or
 * Redis down) answers `LATER`, with the item left to be finished by the redelivery or by a worker.
 *
 * The slow part — logout tokens to the apps, profile and department re-reads from DingTalk — is
 * done by a worker in every server process: it takes one due item at a time with
 * `SELECT … FOR UPDATE SKIP LOCKED` and keeps that row lock while it works, so no two workers
 * (replicas) ever hold one item, and an item whose worker died (its connection closed) is free again
 * at once. Failures are retried with exponential backoff, then marked failed with the reason.
 */
export function createEventInbox(deps: EventInboxDeps): EventInbox {
  const { sequelize, models, deprovisioning, logger, corpId } = deps;
  const { InboxEvent } = models;
  const timings: InboxTimings = { ...DEFAULT_INBOX_TIMINGS, ...deps.timings };

  // ---- receiving -------------------------------------------------------------------------------

  async function receive(event: DirectoryEvent | UnreadableEvent): Promise<EventAck> {
    const type = isUnreadable(event) ? 'unreadable' : event.type;
    let outcome: ReceiveOutcome;
    try {
      outcome = await record(event);
    } catch (error) {
      logger.warn(
        { err: error, eventId: event.id, type, transport: event.transport },
        'DingTalk event not recorded: asking for it again later',
      );
      outcome = 'later';
    }
    const label = isUnreadable(event) ? 'unreadable' : directoryChangeOf(type) ? type : 'other';
    deps.onReceived?.({ transport: event.transport, type: label, outcome });
    if (outcome === 'later') return 'LATER';
    logger.info({ eventId: event.id, type, transport: event.transport, outcome }, 'DingTalk event received');
    return 'SUCCESS';
  }

  async function record(event: DirectoryEvent | UnreadableEvent): Promise<ReceiveOutcome> {
    const now = new Date();
    const id = storedId(event.id);
    if (isUnreadable(event)) {
      const inserted = await insert(
        { id, transport: event.transport, payload: event.raw, status: 'failed', reason: event.reason, finishedAt: now },
        now,
      );
      return inserted ? 'unreadable' : 'duplicate';
    }
    const base = {
      id,
      transport: event.transport,
      type: event.type.slice(0, 64),
      corpId: event.corpId?.slice(0, 64) ?? null,
      userIds: event.userIds,
      departmentIds: event.departmentIds,
      occurredAt: event.occurredAt === undefined ? null : new Date(event.occurredAt),
      payload: event.raw,
    };
    // A Stream connection is opened with our own app's credentials, so its events are ours unless
    // they name another organisation; an HTTP push must name ours.
    const otherCorp = event.corpId === undefined ? event.transport !== 'stream' : event.corpId !== corpId;
    if (corpId === undefined || otherCorp) {
      const noCorp = corpId === undefined;
      const reason = noCorp ? 'no organisation configured (DINGTALK_CORP_ID)' : 'event of another organisation';
      const inserted = await insert({ ...base, status: 'ignored', reason, finishedAt: now }, now);
      return inserted ? (noCorp ? 'no_corp' : 'other_corp') : 'duplicate';
    }
    const change = directoryChangeOf(event.type);
    if (change === undefined) {
      const inserted = await insert({ ...base, status: 'failed', reason: 'unknown event type', finishedAt: now }, now);
      return inserted ? 'unknown_type' : 'duplicate';
    }
    if (change === 'leave' && event.userIds.length === 0) {
      const inserted = await insert({ ...base, status: 'failed', reason: NO_USER_REASON, finishedAt: now }, now);
      return inserted ? 'no_user' : 'duplicate';
    }
    if (change !== 'leave') {
      // Nothing urgent: the re-reads from DingTalk are all slow work.
      const inserted = await insert({ ...base, status: 'pending', urgentDoneAt: now, nextAttemptAt: now }, now);
      if (inserted) wake();
      return inserted ? 'recorded' : 'duplicate';
    }

    // A leave: recorded with its urgent part not done, then the urgent part, then marked done. A
    // crash in between leaves `urgent_done_at` empty: the redelivery (or, after the grace period, a
    // worker) does the urgent part again instead of taking the event for a duplicate.
    const inserted = await insert({ ...base, status: 'pending', nextAttemptAt: new Date(now.getTime() + timings.urgentGraceMs) }, now);
    if (!inserted) {
      const existing = await InboxEvent.findByPk(id, { attributes: ['status', 'urgentDoneAt'] });
      if (!existing || existing.status !== 'pending' || existing.urgentDoneAt !== null) return 'duplicate';
    }
    await cutOff(id, event.type, event.userIds);
    await sequelize.query(
      `UPDATE inbox_events SET urgent_done_at = :now, next_attempt_at = :now, updated_at = :now,
         status = CASE WHEN jsonb_array_length(logouts) = 0 THEN 'done' ELSE status END,
         finished_at = CASE WHEN jsonb_array_length(logouts) = 0 THEN :now ELSE finished_at END
       WHERE id = :id AND urgent_done_at IS NULL`,
      { replacements: { id, now } },
    );
    wake();
    return inserted ? 'recorded' : 'duplicate';
  }

  interface NewItem {
    id: string;
    transport: string;
    type?: string;
    corpId?: string | null;
    userIds?: string[];
    departmentIds?: number[];
    occurredAt?: Date | null;
    payload: unknown;
    status: InboxStatus;
    reason?: string;
    urgentDoneAt?: Date;
    nextAttemptAt?: Date;
    finishedAt?: Date;
  }

  /** INSERT … ON CONFLICT DO NOTHING; true when this call recorded it. */
  async function insert(item: NewItem, now: Date): Promise<boolean> {
    const rows = await sequelize.query<{ id: string }>(
      `INSERT INTO inbox_events (id, transport, type, corp_id, user_ids, department_ids, occurred_at, payload, status,
         reason, urgent_done_at, logouts, attempts, next_attempt_at, finished_at, created_at, updated_at)
       VALUES (:id, :transport, :type, :corpId, CAST(:userIds AS jsonb), CAST(:departmentIds AS jsonb), :occurredAt,
         CAST(:payload AS jsonb), :status, :reason, :urgentDoneAt, '[]'::jsonb, 0, :nextAttemptAt, :finishedAt, :now, :now)
       ON CONFLICT (id) DO NOTHING RETURNING id`,
      {
        type: QueryTypes.SELECT,
        replacements: {
          id: item.id,
          transport: item.transport,
          type: item.type ?? null,
          corpId: item.corpId ?? null,
          userIds: JSON.stringify(item.userIds ?? []),
          departmentIds: JSON.stringify(item.departmentIds ?? []),
          occurredAt: item.occurredAt ?? null,
          payload: storablePayload(item.payload),
          status: item.status,
          reason: item.reason ?? null,
          urgentDoneAt: item.urgentDoneAt ?? null,
          nextAttemptAt: item.nextAttemptAt ?? now,
          finishedAt: item.finishedAt ?? null,
          now,
        },
      },
    );
    return rows.length > 0;
  }

  /** The urgent part of a leave; logout targets are appended to the item before anything is revoked. */
  async function cutOff(id: string, type: string, userIds: readonly string[], transaction?: Transaction): Promise<void> {
    await deprovisioning.cutOff(userIds, {
      source: type,
      deferLogouts: (accountId, targets) => appendLogouts(id, accountId, targets, transaction),
    });
  }

  async function appendLogouts(id: string, accountId: string, targets: LogoutTarget[], transaction?: Transaction): Promise<void> {
    const logouts: PendingLogout[] = targets.map((target) => ({
      accountId,
      clientId: target.clientId,
      ...(target.sid === undefined ? {} : { sid: target.sid }),
    }));
    await sequelize.query('UPDATE inbox_events SET logouts = logouts || CAST(:logouts AS jsonb), updated_at = :now WHERE id = :id', {
      replacements: { id, logouts: JSON.stringify(logouts), now: new Date() },
      ...(transaction ? { transaction } : {}),
    });
  }

  // ---- the worker ------------------------------------------------------------------------------

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

  // ---- operators -------------------------------------------------------------------------------

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

  return { receive, startWorker, stop, wake, runOnce, prune, list, get, retry, counts };
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

function storedId(id: string): string {
  return id.length <= MAX_ID_LENGTH ? id : `sha256:${createHash('sha256').update(id).digest('hex')}`;
}

/**
 * The payload as JSON PostgreSQL's jsonb accepts: no NUL characters (jsonb refuses `\u0000`), and
 * a prefix kept as a string when it is very large.
 */
function storablePayload(payload: unknown): string {
  const text =
    JSON.stringify(payload ?? null, (_key, value: unknown) => (typeof value === 'string' ? value.replaceAll('\u0000', '\uFFFD') : value)) ??
    'null';
  return text.length <= MAX_PAYLOAD_CHARS ? text : JSON.stringify(`${text.slice(0, MAX_PAYLOAD_CHARS)}…`);
}

/** A failure in a few words for the item's `reason`: our code and message, never a stack. */
function describe(error: unknown): string {
  if (error instanceof AppError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}
