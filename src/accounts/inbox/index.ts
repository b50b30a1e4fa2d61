/**
 * The durable event inbox: every DingTalk event (HTTP push or Stream) is recorded in PostgreSQL
 * before it is acknowledged, and worked on afterwards. One file per concern:
 * - record.ts: receiving (unique by event id, a redelivery is a no-op; `SUCCESS` or `LATER`);
 * - urgent.ts: the urgent part of a leave, done before the ack (disable, revoke, logout targets stored);
 * - worker.ts: the slow part (FOR UPDATE SKIP LOCKED, backoff, attempts, pruning);
 * - listing.ts: list, get, retry and counts for the console, the API and the CLI;
 * - types.ts: the {@link EventInbox} contract, items and timings.
 */
import { createInboxListing } from './listing.js';
import { createRecorder } from './record.js';
import { DEFAULT_INBOX_TIMINGS, type EventInbox, type EventInboxDeps, type InboxTimings } from './types.js';
import { createCutOff } from './urgent.js';
import { createInboxWorker } from './worker.js';

export {
  DEFAULT_INBOX_TIMINGS,
  type EventInbox,
  type EventInboxDeps,
  type InboxItem,
  type InboxPage,
  type InboxTimings,
  type ReceiveOutcome,
} from './types.js';

export function createEventInbox(deps: EventInboxDeps): EventInbox {
  const { sequelize, models, deprovisioning, logger } = deps;
  const timings: InboxTimings = { ...DEFAULT_INBOX_TIMINGS, ...deps.timings };
  const cutOff = createCutOff({ sequelize, deprovisioning });
  const worker = createInboxWorker({ sequelize, models, deprovisioning, logger, timings, cutOff });
  const receive = createRecorder({
    sequelize,
    models,
    logger,
    timings,
    cutOff,
    corpId: deps.corpId,
    onReceived: deps.onReceived,
    wake: () => worker.wake(),
  });
  const listing = createInboxListing({ sequelize, models, wake: () => worker.wake() });
  return { receive, ...worker, ...listing };
}
