/**
 * The emulated DingTalk Stream gateway (dingtalk-api.md §10), written from the document alone:
 * - `POST /v1.0/gateway/connections/open` {clientId, clientSecret, subscriptions, ua?, localIp?}
 *   → 200 `{endpoint, ticket}`; wrong credentials → 401 `{requestid, code: "authFailed", message}`
 *   (§10.1). A ticket is valid 90 s on the emulator's clock and opens one connection.
 * - The WebSocket at `<endpoint>?ticket=…` on the emulator's own server (§10.2). A missing, used or
 *   expired ticket is refused with HTTP 401 during the handshake: the real answer is not documented
 *   (§10.8), any ≥ 400 status is what clients treat as a failed connect.
 * - Frames `{specVersion, type, headers, data}` with `data` a JSON string (§10.3): SYSTEM `ping`
 *   every `pingIntervalMs`, SYSTEM `disconnect` (then the socket is closed `disconnectGraceMs`
 *   later), and EVENT pushes of directory changes with camelCase data (`userId`, `deptId`,
 *   `timeStamp`) and the organisation in `eventCorpId`.
 * - Each event goes to ONE live connection subscribed to `EVENT *`, picked at random (§10.6); without
 *   a `SUCCESS` reply within `ackTimeoutMs` (a `LATER`, a malformed reply, or none) it is pushed
 *   again, with the same `eventId` and `messageId` (§10.4 suggests redeliveries keep the messageId;
 *   not documented), until `giveUpAfterMs` after the first push. Events raised while no connection
 *   is open wait for the next one, within the same window (undocumented, §10.8; chosen so that a
 *   developer's `npm start` sees every change).
 * Test hooks, like `EmulatorState`'s: `ping`, `disconnect`, `drop`, `freeze`, `refuseNextHandshakes`, `publish`, `pushRaw`, and the
 * `replies` log with `onReply` / `waitForReply`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { Router } from '@koa/router';
import WebSocket, { WebSocketServer } from 'ws';
import { isRecord, readJsonObject, sendApi, sendApiError } from './http.js';
import type { DirectoryChange, EmulatorState } from './state.js';

export const STREAM_OPEN_PATH = '/v1.0/gateway/connections/open';
/** Path of the WebSocket endpoint on the emulator's server (DingTalk's is `/connect` too, §10.1). */
export const STREAM_CONNECT_PATH = '/connect';

/** Settings of the Stream gateway (all optional). */
export interface StreamGatewayOptions {
  /** Validity of a ticket; default 90 000 ms (§10.1). */
  ticketTtlMs?: number;
  /** Redelivery when an event is not acked SUCCESS within this; default 10 000 ms. */
  ackTimeoutMs?: number;
  /** Stop redelivering this long after the first push; default 60 000 ms (the Node SDK's "60 s"). */
  giveUpAfterMs?: number;
  /** SYSTEM `ping` period per connection; default 30 000 ms (undocumented, §10.8); 0 = only `ping()`. */
  pingIntervalMs?: number;
  /** After a `disconnect`, the socket is closed this much later unless the client closed it; default 10 000 ms (§10.5). */
  disconnectGraceMs?: number;
}

/** A `subscriptions` entry of the registration. */
export interface StreamSubscription {
  type: string;
  topic: string;
}

/** A live connection. */
export interface StreamConnectionInfo {
  id: string;
  openedAt: number;
  subscriptions: StreamSubscription[];
  ua?: string;
}

/** One reply frame a client sent, as read by the emulator. */
export interface StreamReplyRecord {
  connectionId: string;
  at: number;
  /** The raw text. */
  text: string;
  /** `headers.messageId`, when the reply had one. */
  messageId?: string;
  code?: number;
  message?: string;
  /** `data` parsed (it must be a JSON string, §10.4). */
  data?: unknown;
  /** What the reply answered: an event push, a ping, or nothing the emulator knows. */
  answers: 'event' | 'ping' | 'unknown';
  /** For an event: its id and the `status` the reply carried (`SUCCESS`, `LATER`, or `undefined`). */
  eventId?: string;
  status?: string;
  /** Why the reply does not follow §10.4 (no messageId, data not a JSON string, opaque not echoed…). */
  problem?: string;
}

/** An event to push; `type` and the ids become `eventType` and camelCase data. */
export interface StreamEventInput {
  type: string;
  userIds?: readonly string[];
  deptIds?: readonly number[];
  /** Default: the emulator's organisation. */
  corpId?: string;
  /** Replaces the data object entirely (a string is sent as is: malformed data for tests). */
  data?: Record<string, unknown> | string;
  /** Default: a new random id. */
  eventId?: string;
}

interface Ticket {
  expiresAt: number;
  used: boolean;
  subscriptions: StreamSubscription[];
  ua?: string;
}

interface LiveConnection extends StreamConnectionInfo {
  ws: WebSocket;
  frozen?: boolean;
  pingTimer?: NodeJS.Timeout;
  graceTimer?: NodeJS.Timeout;
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

export class StreamGateway {
  readonly #state: EmulatorState;
  readonly #ticketTtlMs: number;
  readonly #ackTimeoutMs: number;
  readonly #giveUpAfterMs: number;
  readonly #pingIntervalMs: number;
  readonly #disconnectGraceMs: number;
  readonly #tickets = new Map<string, Ticket>();
  readonly #connections = new Map<string, LiveConnection>();
  /** Events not yet acked SUCCESS, by messageId, oldest first. */
  readonly #pending = new Map<string, PendingEvent>();
  readonly #pings = new Map<string, { opaque: string }>();
  readonly #listeners = new Set<(reply: StreamReplyRecord) => void>();
  readonly #wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  /** Every reply received, oldest first. */
  readonly replies: StreamReplyRecord[] = [];
  /** Events acked SUCCESS, by eventId: how many times each was pushed. */
  readonly acked = new Map<string, number>();
  /** Events dropped unacked after `giveUpAfterMs`. */
  readonly gaveUp: string[] = [];
  /** Successful registrations (tickets issued). */
  ticketsIssued = 0;
  #refuseHandshakes = 0;

  constructor(state: EmulatorState, options: StreamGatewayOptions = {}) {
    this.#state = state;
    this.#ticketTtlMs = options.ticketTtlMs ?? 90_000;
    this.#ackTimeoutMs = options.ackTimeoutMs ?? 10_000;
    this.#giveUpAfterMs = options.giveUpAfterMs ?? 60_000;
    this.#pingIntervalMs = options.pingIntervalMs ?? 30_000;
    this.#disconnectGraceMs = options.disconnectGraceMs ?? 10_000;
  }

  // --- registration and handshake ----------------------------------------------------------

  /** A single-use ticket for these subscriptions. */
  issueTicket(subscriptions: StreamSubscription[], ua?: string): string {
    const ticket = randomUUID();
    this.#tickets.set(ticket, {
      expiresAt: this.#state.now() + this.#ticketTtlMs,
      used: false,
      subscriptions,
      ...(ua === undefined ? {} : { ua }),
    });
    this.ticketsIssued += 1;
    return ticket;
  }

  /**
   * Handles an HTTP upgrade aimed at the emulator's server. `prefix` is where the emulator is mounted
   * (`''` when it has a server of its own). Anything but `<prefix>/connect` with a live ticket is refused.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, prefix = ''): void {
    const url = new URL(req.url ?? '/', 'http://emulator.invalid');
    if (url.pathname !== `${prefix}${STREAM_CONNECT_PATH}`) return refuse(socket, 404, 'Not Found');
    const ticketId = url.searchParams.get('ticket') ?? '';
    const ticket = this.#tickets.get(ticketId);
    if (ticket === undefined || ticket.used || ticket.expiresAt <= this.#state.now() || this.#refuseHandshakes > 0) {
      this.#refuseHandshakes = Math.max(0, this.#refuseHandshakes - 1);
      return refuse(socket, 401, 'Unauthorized');
    }
    ticket.used = true;
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws, ticket));
  }

  #accept(ws: WebSocket, ticket: Ticket): void {
    const connection: LiveConnection = {
      id: randomBytes(8).toString('hex'),
      openedAt: this.#state.now(),
      subscriptions: ticket.subscriptions,
      ...(ticket.ua === undefined ? {} : { ua: ticket.ua }),
      ws,
    };
    this.#connections.set(connection.id, connection);
    ws.on('message', (data, isBinary) => {
      if (!isBinary)
        this.#onReply(connection, Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8'));
    });
    ws.on('error', () => undefined);
    ws.on('close', () => {
      clearInterval(connection.pingTimer);
      clearTimeout(connection.graceTimer);
      this.#connections.delete(connection.id);
    });
    if (this.#pingIntervalMs > 0) {
      connection.pingTimer = setInterval(() => this.#sendPing(connection), this.#pingIntervalMs);
      connection.pingTimer.unref();
    }
    // Events raised while nobody listened go out now (to this or another live connection).
    if (this.#wantsEvents(connection)) this.#flush();
  }

  // --- connections (test hooks) ------------------------------------------------------------

  /** The next `times` WebSocket handshakes are refused (401) whatever their ticket. */
  refuseNextHandshakes(times = 1): void {
    this.#refuseHandshakes += times;
  }

  /** The live connections, oldest first. */
  connections(): StreamConnectionInfo[] {
    return [...this.#connections.values()].map(({ id, openedAt, subscriptions, ua }) => ({
      id,
      openedAt,
      subscriptions,
      ...(ua === undefined ? {} : { ua }),
    }));
  }

  /** Sends SYSTEM `ping` (data `{opaque}`) to one connection (default: all); returns the messageIds. */
  ping(connectionId?: string): string[] {
    return this.#targets(connectionId).map((connection) => this.#sendPing(connection));
  }

  /**
   * Sends SYSTEM `disconnect` to one connection (default: all) and closes it `disconnectGraceMs`
   * later if the client has not closed it itself (§10.5).
   */
  disconnect(connectionId?: string, reason = 'connection is expired'): void {
    for (const connection of this.#targets(connectionId)) {
      this.#send(connection, {
        specVersion: '1.0',
        type: 'SYSTEM',
        headers: this.#headers(connection, 'disconnect'),
        data: JSON.stringify({ reason }),
      });
      connection.graceTimer = setTimeout(() => connection.ws.close(1000, 'disconnect'), this.#disconnectGraceMs);
      connection.graceTimer.unref();
    }
  }

  /** Breaks one connection (default: all) without a close frame, as a network failure would. */
  drop(connectionId?: string): void {
    for (const connection of this.#targets(connectionId)) connection.ws.terminate();
  }

  /**
   * Makes one connection (default: all) go silent, as a half-dead network path does: the emulator
   * stops reading it, so the client's WebSocket pings get no pong and nothing more is sent.
   */
  freeze(connectionId?: string): void {
    for (const connection of this.#targets(connectionId)) {
      clearInterval(connection.pingTimer);
      connection.frozen = true;
      connection.ws.pause();
    }
  }

  /** Sends a frame exactly as given (object → JSON) to one connection (default: a random one). */
  pushRaw(frame: Record<string, unknown> | string, connectionId?: string): void {
    const target = connectionId === undefined ? pickOne([...this.#connections.values()]) : this.#connections.get(connectionId);
    if (target === undefined) throw new Error('emulator: no live Stream connection');
    target.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  // --- events --------------------------------------------------------------------------------

  /** A directory change from `EmulatorState`, as the EVENT DingTalk would push. */
  publishChange(change: DirectoryChange): { eventId: string; messageId: string } {
    return this.publish({
      type: change.type,
      ...(change.userIds === undefined ? {} : { userIds: change.userIds }),
      ...(change.deptIds === undefined ? {} : { deptIds: change.deptIds }),
    });
  }

  /**
   * Pushes an EVENT to one live `EVENT *` connection (or keeps it for the next one), and again
   * until it is acked SUCCESS or `giveUpAfterMs` passes. Returns its ids.
   */
  publish(input: StreamEventInput): { eventId: string; messageId: string } {
    const now = this.#state.now();
    const eventId = input.eventId ?? randomBytes(16).toString('hex');
    const messageId = randomBytes(12).toString('hex');
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
        eventCorpId: input.corpId ?? this.#state.corpId,
        eventBornTime: String(now),
        eventUnifiedAppId: this.#state.clientId,
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

  #deliver(event: PendingEvent): void {
    clearTimeout(event.timer);
    const now = this.#state.now();
    if (now - (event.firstPushedAt ?? event.raisedAt) >= this.#giveUpAfterMs) return this.#expire(event);
    const target = pickOne(
      [...this.#connections.values()].filter((connection) => this.#wantsEvents(connection) && connection.frozen !== true),
    );
    if (target === undefined) return; // waits for the next connection (#flush)
    event.firstPushedAt ??= now;
    event.deliveries += 1;
    this.#send(target, {
      specVersion: '1.0',
      type: 'EVENT',
      headers: { ...event.headers, time: String(now), appId: this.#state.clientId, connectionId: target.id },
      data: event.data,
    });
    event.timer = setTimeout(() => this.#deliver(event), this.#ackTimeoutMs);
    event.timer.unref();
  }

  #flush(): void {
    for (const event of [...this.#pending.values()]) if (event.deliveries === 0) this.#deliver(event);
  }

  #expire(event: PendingEvent): void {
    clearTimeout(event.timer);
    this.#pending.delete(event.messageId);
    if (event.deliveries > 0) this.gaveUp.push(event.eventId);
  }

  // --- replies -------------------------------------------------------------------------------

  /** Calls `listener` with every reply as it arrives; returns the unsubscribe. */
  onReply(listener: (reply: StreamReplyRecord) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The first reply (already received or still to come) that matches. */
  waitForReply(match: (reply: StreamReplyRecord) => boolean, timeoutMs = 5000): Promise<StreamReplyRecord> {
    const seen = this.replies.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        stop();
        reject(new Error(`emulator: no matching Stream reply within ${timeoutMs} ms`));
      }, timeoutMs);
      const stop = this.onReply((reply) => {
        if (!match(reply)) return;
        clearTimeout(timer);
        stop();
        resolve(reply);
      });
    });
  }

  #onReply(connection: LiveConnection, text: string): void {
    const record: StreamReplyRecord = { connectionId: connection.id, at: this.#state.now(), text, answers: 'unknown' };
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!isRecord(json)) {
      record.problem = 'reply is not a JSON object';
    } else {
      if (typeof json.code === 'number') record.code = json.code;
      if (typeof json.message === 'string') record.message = json.message;
      const messageId = isRecord(json.headers) && typeof json.headers.messageId === 'string' ? json.headers.messageId : undefined;
      if (messageId !== undefined) record.messageId = messageId;
      if (typeof json.data !== 'string') {
        record.problem = 'data is not a JSON string';
      } else {
        try {
          record.data = JSON.parse(json.data);
        } catch {
          record.problem = 'data is not a JSON string';
        }
      }
      if (messageId === undefined) record.problem ??= 'reply has no headers.messageId';
      else if (record.code === undefined) record.problem ??= 'reply has no numeric code';
      this.#match(record, messageId);
    }
    this.replies.push(record);
    for (const listener of this.#listeners) listener(record);
  }

  #match(record: StreamReplyRecord, messageId: string | undefined): void {
    if (messageId === undefined) return;
    const ping = this.#pings.get(messageId);
    if (ping !== undefined) {
      record.answers = 'ping';
      this.#pings.delete(messageId);
      if (!isRecord(record.data) || record.data.opaque !== ping.opaque) record.problem ??= 'ping reply does not echo opaque';
      return;
    }
    const event = this.#pending.get(messageId);
    if (event === undefined) {
      // An ack of an event already acked (a late duplicate) still names its event.
      return;
    }
    record.answers = 'event';
    record.eventId = event.eventId;
    const status = isRecord(record.data) ? record.data.status : undefined;
    if (typeof status === 'string') record.status = status;
    // Only a well-formed SUCCESS (§10.4) consumes the event; LATER or anything else gets it pushed again.
    if (record.problem === undefined && record.code === 200 && status === 'SUCCESS') {
      clearTimeout(event.timer);
      this.#pending.delete(messageId);
      this.acked.set(event.eventId, event.deliveries);
    }
  }

  // --- helpers -------------------------------------------------------------------------------

  #sendPing(connection: LiveConnection): string {
    const headers = this.#headers(connection, 'ping');
    const opaque = randomUUID();
    this.#pings.set(headers.messageId!, { opaque });
    this.#send(connection, { specVersion: '1.0', type: 'SYSTEM', headers, data: JSON.stringify({ opaque }) });
    return headers.messageId!;
  }

  #headers(connection: LiveConnection, topic: string): Record<string, string> {
    return {
      appId: this.#state.clientId,
      connectionId: connection.id,
      contentType: 'application/json',
      messageId: randomBytes(12).toString('hex'),
      time: String(this.#state.now()),
      topic,
    };
  }

  #send(connection: LiveConnection, frame: Record<string, unknown>): void {
    if (connection.ws.readyState === WebSocket.OPEN && connection.frozen !== true) connection.ws.send(JSON.stringify(frame));
  }

  #wantsEvents(connection: StreamConnectionInfo): boolean {
    return connection.subscriptions.some((subscription) => subscription.type === 'EVENT' && subscription.topic === '*');
  }

  #targets(connectionId: string | undefined): LiveConnection[] {
    const all = [...this.#connections.values()];
    return connectionId === undefined ? all : all.filter((connection) => connection.id === connectionId);
  }

  /** Closes every connection and forgets pending events (the emulator is shutting down). */
  close(): void {
    for (const event of this.#pending.values()) clearTimeout(event.timer);
    this.#pending.clear();
    for (const connection of this.#connections.values()) connection.ws.terminate();
    this.#wss.close();
  }
}

/**
 * Router for `POST /v1.0/gateway/connections/open` (§10.1). `endpointBase` is the emulator's public
 * base URL (http… → ws…); default: the request's own origin.
 */
export function createStreamRouter(state: EmulatorState, gateway: StreamGateway, endpointBase?: string): Router {
  const router = new Router();
  router.post(STREAM_OPEN_PATH, async (ctx) => {
    const body = await readJsonObject(ctx);
    if (body === undefined) return sendApiError(ctx, 400, 'Missingbody', 'body is missing');
    if (body.clientId !== state.clientId || body.clientSecret !== state.clientSecret) {
      return sendApiError(ctx, 401, 'authFailed', '鉴权失败');
    }
    const subscriptions = readSubscriptions(body.subscriptions);
    // Not documented (§10.8): a malformed or empty subscription list gets the generic parameter error.
    if (subscriptions === undefined) return sendApiError(ctx, 400, 'InvalidParameter', 'subscriptions is invalid');
    const ticket = gateway.issueTicket(subscriptions, typeof body.ua === 'string' ? body.ua : undefined);
    const base = (endpointBase ?? `${ctx.protocol}://${ctx.host}`).replace(/^http/, 'ws').replace(/\/+$/, '');
    sendApi(ctx, 200, { endpoint: `${base}${STREAM_CONNECT_PATH}`, ticket });
  });
  return router;
}

function readSubscriptions(value: unknown): StreamSubscription[] | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const out: StreamSubscription[] = [];
  for (const item of value) {
    if (!isRecord(item) || typeof item.type !== 'string' || typeof item.topic !== 'string') return undefined;
    if (!['EVENT', 'CALLBACK', 'SYSTEM'].includes(item.type)) return undefined;
    out.push({ type: item.type, topic: item.topic });
  }
  return out;
}

function refuse(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

function pickOne<T>(items: T[]): T | undefined {
  return items.length === 0 ? undefined : items[Math.floor(Math.random() * items.length)];
}
