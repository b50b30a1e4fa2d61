import { randomBytes } from 'node:crypto';
import { isRecord } from '../http.js';
import type { StreamEventInput, StreamFrame, StreamReplyRecord } from './types.js';

/** A connection an event can be pushed to. */
export interface EventTarget {
  id: string;
  send(frame: StreamFrame): void;
}

/** What the queue needs from the gateway. */
export interface EventQueueDeps {
  now(): number;
  corpId: string;
  clientId: string;
  ackTimeoutMs: number;
  giveUpAfterMs: number;
  /** One live connection subscribed to `EVENT *`, picked at random; none → the event waits. */
  pickTarget(): EventTarget | undefined;
}

interface PendingEvent {
  eventId: string;
  messageId: string;
  headers: Record<string, string>;
  data: string;
  firstPushedAt?: number;
  raisedAt: number;
  deliveries: number;
  timer?: NodeJS.Timeout;
}

const MAX_QUEUED = 1000;

/**
 * EVENT pushes until acked (§10.3, §10.4): each goes to ONE connection; without a `SUCCESS` reply
 * within `ackTimeoutMs` (a `LATER`, a malformed reply, or none) it is pushed again, with the same
 * `eventId` and `messageId` (§10.4 suggests redeliveries keep the messageId; not documented), until
 * `giveUpAfterMs` after the first push. Events raised while no connection is open wait for the next
 * one, within the same window (undocumented, §10.8; chosen so that a developer's `npm start` sees
 * every change).
 */
export class EventQueue {
  readonly #deps: EventQueueDeps;
  /** Events not yet acked SUCCESS, by messageId, oldest first. */
  readonly #pending = new Map<string, PendingEvent>();
  /** Events acked SUCCESS, by eventId: how many times each was pushed. */
  readonly acked = new Map<string, number>();
  /** Events dropped unacked after `giveUpAfterMs`. */
  readonly gaveUp: string[] = [];

  constructor(deps: EventQueueDeps) {
    this.#deps = deps;
  }

  /** Queues an EVENT and pushes it at once if a connection listens. */
  publish(input: StreamEventInput): { eventId: string; messageId: string } {
    const now = this.#deps.now();
    const eventId = input.eventId ?? randomBytes(16).toString('hex');
    const messageId = randomBytes(12).toString('hex');
    // Stream event data is camelCase and the organisation travels in the `eventCorpId` header (§10.3).
    const data =
      typeof input.data === 'string'
        ? input.data
        : JSON.stringify(
            input.data ?? {
              timeStamp: String(now),
              ...(input.userIds === undefined ? {} : { userId: [...input.userIds] }),
              ...(input.deptIds === undefined ? {} : { deptId: [...input.deptIds] }),
            },
          );
    const pending: PendingEvent = {
      eventId,
      messageId,
      raisedAt: now,
      deliveries: 0,
      data,
      headers: {
        topic: '*',
        contentType: 'application/json',
        messageId,
        eventType: input.type,
        eventId,
        eventCorpId: input.corpId ?? this.#deps.corpId,
        eventBornTime: String(now),
        eventUnifiedAppId: this.#deps.clientId,
      },
    };
    if (this.#pending.size >= MAX_QUEUED) this.#expire(this.#pending.values().next().value as PendingEvent);
    this.#pending.set(messageId, pending);
    this.#deliver(pending);
    return { eventId, messageId };
  }

  /** Events pushed or waiting and not acked SUCCESS yet. */
  pendingEvents(): { eventId: string; messageId: string; type: string; deliveries: number }[] {
    return [...this.#pending.values()].map((event) => ({
      eventId: event.eventId,
      messageId: event.messageId,
      type: event.headers.eventType ?? '',
      deliveries: event.deliveries,
    }));
  }

  /** Pushes the events that waited for a connection. */
  flush(): void {
    for (const event of [...this.#pending.values()]) if (event.deliveries === 0) this.#deliver(event);
  }

  /**
   * Reads a reply as an ack when its messageId is a pending event's: fills `answers`, `eventId` and
   * `status`; only a well-formed code-200 `SUCCESS` (§10.4) consumes the event. False when the reply
   * names no pending event (a late duplicate ack, or something else).
   */
  matchReply(record: StreamReplyRecord, messageId: string): boolean {
    const event = this.#pending.get(messageId);
    if (event === undefined) return false;
    record.answers = 'event';
    record.eventId = event.eventId;
    const status = isRecord(record.data) ? record.data.status : undefined;
    if (typeof status === 'string') record.status = status;
    if (record.problem === undefined && record.code === 200 && status === 'SUCCESS') {
      clearTimeout(event.timer);
      this.#pending.delete(messageId);
      this.acked.set(event.eventId, event.deliveries);
    }
    return true;
  }

  /** Forgets every pending event (the emulator is shutting down). */
  clear(): void {
    for (const event of this.#pending.values()) clearTimeout(event.timer);
    this.#pending.clear();
  }

  #deliver(event: PendingEvent): void {
    clearTimeout(event.timer);
    const now = this.#deps.now();
    if (now - (event.firstPushedAt ?? event.raisedAt) >= this.#deps.giveUpAfterMs) return this.#expire(event);
    const target = this.#deps.pickTarget();
    if (target === undefined) return; // waits for the next connection (flush)
    event.firstPushedAt ??= now;
    event.deliveries += 1;
    target.send({
      specVersion: '1.0',
      type: 'EVENT',
      headers: { ...event.headers, time: String(now), appId: this.#deps.clientId, connectionId: target.id },
      data: event.data,
    });
    event.timer = setTimeout(() => this.#deliver(event), this.#deps.ackTimeoutMs);
    event.timer.unref();
  }

  #expire(event: PendingEvent): void {
    clearTimeout(event.timer);
    this.#pending.delete(event.messageId);
    if (event.deliveries > 0) this.gaveUp.push(event.eventId);
  }
}
