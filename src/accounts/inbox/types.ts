import type { Sequelize } from 'sequelize';

import type { Models } from '../../db/models/index.js';
import type { InboxStatus } from '../../db/models/inbox-event.js';
import type { EventSink } from '../../dingtalk/index.js';
import type { Logger } from '../../log.js';
import type { Deprovisioning } from '../deprovisioning.js';

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
