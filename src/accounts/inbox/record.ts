import { createHash } from 'node:crypto';
import { QueryTypes, type Sequelize } from 'sequelize';

import type { Models } from '../../db/models/index.js';
import type { InboxStatus } from '../../db/models/inbox-event.js';
import { directoryChangeOf, isUnreadable, type DirectoryEvent, type EventAck, type UnreadableEvent } from '../../dingtalk/index.js';
import type { Logger } from '../../log.js';
import type { EventInboxDeps, InboxTimings, ReceiveOutcome } from './types.js';
import { NO_USER_REASON, type CutOff } from './urgent.js';

/** Longest id stored as is; longer ones (never seen) are digested. */
const MAX_ID_LENGTH = 200;
/** Largest payload stored as received; beyond, a prefix is kept as a string. */
const MAX_PAYLOAD_CHARS = 64 * 1024;

export interface RecorderDeps {
  sequelize: Sequelize;
  models: Models;
  logger: Logger;
  corpId?: string;
  onReceived?: EventInboxDeps['onReceived'];
  timings: InboxTimings;
  /** The urgent part of a leave (urgent.ts). */
  cutOff: CutOff;
  /** Wakes the worker for a newly recorded item. */
  wake: () => void;
}

/**
 * Receiving: records every DingTalk event in PostgreSQL (unique by event id: a redelivery is a
 * no-op) and does the urgent part of a leave before it answers `SUCCESS`; an event that cannot be
 * read, is of an unknown type or of another organisation is recorded as failed or ignored and
 * acknowledged too. Only a transient failure (PostgreSQL or Redis down) answers `LATER`, with the
 * item left to be finished by the redelivery or by a worker.
 */
export function createRecorder(deps: RecorderDeps): (event: DirectoryEvent | UnreadableEvent) => Promise<EventAck> {
  const { sequelize, models, logger, corpId, timings, cutOff, wake } = deps;
  const { InboxEvent } = models;

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

  return receive;
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
