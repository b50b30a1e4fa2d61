/**
 * The emulated DingTalk Stream gateway (dingtalk-api.md §10), written from the document alone:
 * - tickets from `POST /v1.0/gateway/connections/open` (open-route.ts), valid 90 s on the emulator's
 *   clock, each opening one connection (§10.1);
 * - the WebSocket at `<endpoint>?ticket=…` on the emulator's own server (§10.2). A missing, used or
 *   expired ticket is refused with HTTP 401 during the handshake: the real answer is not documented
 *   (§10.8), any ≥ 400 status is what clients treat as a failed connect;
 * - frames `{specVersion, type, headers, data}` with `data` a JSON string (§10.3): SYSTEM `ping` every
 *   `pingIntervalMs`, SYSTEM `disconnect` (then the socket is closed `disconnectGraceMs` later), and
 *   EVENT pushes of directory changes (event-queue.ts), each to ONE live `EVENT *` connection picked at
 *   random (§10.6);
 * - replies read per §10.4 (replies.ts).
 * Test hooks, like `EmulatorState`'s: `ping`, `disconnect`, `drop`, `freeze`, `refuseNextHandshakes`,
 * `publish`, `pushRaw`, and the `replies` log with `onReply` / `waitForReply`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import { isRecord } from '../http.js';
import type { DirectoryChange, EmulatorState } from '../state.js';
import { EventQueue } from './event-queue.js';
import { parseReply, ReplyLog } from './replies.js';
import {
  pickOne,
  STREAM_CONNECT_PATH,
  type StreamConnectionInfo,
  type StreamEventInput,
  type StreamFrame,
  type StreamGatewayOptions,
  type StreamReplyRecord,
  type StreamSubscription,
} from './types.js';

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

export class StreamGateway {
  readonly #state: EmulatorState;
  readonly #ticketTtlMs: number;
  readonly #pingIntervalMs: number;
  readonly #disconnectGraceMs: number;
  readonly #tickets = new Map<string, Ticket>();
  readonly #connections = new Map<string, LiveConnection>();
  readonly #pings = new Map<string, { opaque: string }>();
  readonly #events: EventQueue;
  readonly #replies = new ReplyLog();
  readonly #wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  /** Successful registrations (tickets issued). */
  ticketsIssued = 0;
  #refuseHandshakes = 0;

  constructor(state: EmulatorState, options: StreamGatewayOptions = {}) {
    this.#state = state;
    this.#ticketTtlMs = options.ticketTtlMs ?? 90_000;
    this.#pingIntervalMs = options.pingIntervalMs ?? 30_000;
    this.#disconnectGraceMs = options.disconnectGraceMs ?? 10_000;
    this.#events = new EventQueue({
      now: () => state.now(),
      corpId: state.corpId,
      clientId: state.clientId,
      ackTimeoutMs: options.ackTimeoutMs ?? 10_000,
      giveUpAfterMs: options.giveUpAfterMs ?? 60_000,
      pickTarget: () => {
        const connection = pickOne([...this.#connections.values()].filter((c) => wantsEvents(c) && c.frozen !== true));
        return connection === undefined ? undefined : { id: connection.id, send: (frame) => this.#send(connection, frame) };
      },
    });
  }

  /** Every reply received, oldest first. */
  get replies(): StreamReplyRecord[] {
    return this.#replies.replies;
  }

  /** Events acked SUCCESS, by eventId: how many times each was pushed. */
  get acked(): Map<string, number> {
    return this.#events.acked;
  }

  /** Events dropped unacked after `giveUpAfterMs`. */
  get gaveUp(): string[] {
    return this.#events.gaveUp;
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
    if (wantsEvents(connection)) this.#events.flush();
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
    return this.#events.publish(input);
  }

  /** Events pushed or waiting and not acked SUCCESS yet. */
  pendingEvents(): { eventId: string; messageId: string; type: string; deliveries: number }[] {
    return this.#events.pendingEvents();
  }

  // --- replies -------------------------------------------------------------------------------

  /** Calls `listener` with every reply as it arrives; returns the unsubscribe. */
  onReply(listener: (reply: StreamReplyRecord) => void): () => void {
    return this.#replies.onReply(listener);
  }

  /** The first reply (already received or still to come) that matches. */
  waitForReply(match: (reply: StreamReplyRecord) => boolean, timeoutMs = 5000): Promise<StreamReplyRecord> {
    return this.#replies.waitForReply(match, timeoutMs);
  }

  #onReply(connection: LiveConnection, text: string): void {
    const record = parseReply(connection.id, this.#state.now(), text);
    const messageId = record.messageId;
    if (messageId !== undefined) {
      const ping = this.#pings.get(messageId);
      if (ping !== undefined) {
        record.answers = 'ping';
        this.#pings.delete(messageId);
        if (!isRecord(record.data) || record.data.opaque !== ping.opaque) record.problem ??= 'ping reply does not echo opaque';
      } else {
        this.#events.matchReply(record, messageId);
      }
    }
    this.#replies.add(record);
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

  #send(connection: LiveConnection, frame: StreamFrame): void {
    if (connection.ws.readyState === WebSocket.OPEN && connection.frozen !== true) connection.ws.send(JSON.stringify(frame));
  }

  #targets(connectionId: string | undefined): LiveConnection[] {
    const all = [...this.#connections.values()];
    return connectionId === undefined ? all : all.filter((connection) => connection.id === connectionId);
  }

  /** Closes every connection and forgets pending events (the emulator is shutting down). */
  close(): void {
    this.#events.clear();
    for (const connection of this.#connections.values()) connection.ws.terminate();
    this.#wss.close();
  }
}

function wantsEvents(connection: StreamConnectionInfo): boolean {
  return connection.subscriptions.some((subscription) => subscription.type === 'EVENT' && subscription.topic === '*');
}

function refuse(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
