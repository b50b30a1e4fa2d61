/**
 * DingTalk Stream mode client (dingtalk-api.md §10): org events over a WebSocket this server opens,
 * so no public callback URL is needed.
 *
 * One connection at a time, kept for the life of the process:
 * 1. `POST ${apiBaseUrl}/v1.0/gateway/connections/open` with the app's Client ID and secret and the
 *    subscription `EVENT *` → `{endpoint, ticket}` (§10.1). Built here rather than with the official
 *    `dingtalk-stream` package, which hard-codes api.dingtalk.com (§10.7/1) and acks synchronously.
 * 2. The WebSocket at `endpoint?ticket=…` (§10.2); a ticket opens one connection, so every
 *    (re)connect asks for a new one.
 * 3. SYSTEM `ping` is answered at once; `disconnect` opens a new connection and closes this one once
 *    its events are acked (§10.5). Each EVENT goes to the sink (the event inbox) and is acked with
 *    its answer: `SUCCESS` once safely recorded, `LATER` on a transient failure (§10.4).
 * 4. A drop, a refused ticket or a failed registration is retried by itself with exponential backoff
 *    and jitter (§10.6); so is a silent connection: after `idleMs` without a frame a WebSocket ping
 *    is sent, and without a pong (or any frame) within `pongTimeoutMs` the connection is replaced.
 * Every replica may hold a connection: DingTalk gives each push to one of them (§10.6), and the inbox
 * dedupes by event id. Knows nothing of Koa; reports through `onStatus`/`onEvent` and the logger.
 */
import { request, type Dispatcher } from 'undici';
import WebSocket from 'ws';
import { z } from 'zod';
import type { Logger } from '../log.js';
import { UpstreamError } from '../errors/app-error.js';
import { isUnreadable, type EventAck, type EventSink } from './directory-event.js';
import { dingTalkError, mapApiError, mapTransportError } from './errors.js';
import { apiErrorSchema } from './schemas.js';
import { eventAck, parseStreamFrame, pingReply, unsupportedReply } from './stream-frames.js';

/** Where the connection registration lives on api.dingtalk.com (§10.1). */
export const STREAM_OPEN_PATH = '/v1.0/gateway/connections/open';
/** `UpstreamError.operation` of the registration call. */
export const STREAM_OPEN_OPERATION = 'dingtalk.stream_open';

/** Settings of {@link createStreamClient}. */
export interface StreamClientOptions {
  /** The app's Client ID (AppKey) and secret: Stream authenticates with them alone. */
  clientId: string;
  clientSecret: string;
  /** e.g. `https://api.dingtalk.com` (DINGTALK_API_BASE_URL). */
  apiBaseUrl: string;
  /** Deadline of the registration call and of the WebSocket handshake. */
  timeoutMs: number;
  /** Receives every EVENT push; its answer is the ack. */
  sink: EventSink;
  logger: Logger;
  /** First reconnect delay; doubled per failed attempt, with jitter. Default 1000 ms. */
  reconnectBaseMs?: number;
  /** Longest reconnect delay. Default 60 000 ms (as the official SDKs). */
  reconnectMaxMs?: number;
  /** Silence after which a WebSocket ping is sent. Default 60 000 ms. */
  idleMs?: number;
  /** How long to wait for the pong (or any frame) before replacing the connection. Default 10 000 ms. */
  pongTimeoutMs?: number;
  /** `ua` of the registration: who we are, for DingTalk's troubleshooting. */
  ua?: string;
  /** Told on every change of {@link StreamStatus} (metrics, the console). Never throws into the client. */
  onStatus?: (status: StreamStatus) => void;
  /** Told after each EVENT push is answered (metrics). */
  onEvent?: (outcome: StreamEventOutcome) => void;
  /** undici dispatcher for the registration call; default: undici's global one. */
  dispatcher?: Dispatcher;
}

/**
 * `connecting`: registering or opening the WebSocket; `connected`: receiving events; `waiting`:
 * the last attempt failed or the connection dropped, the next attempt is at `nextAttemptAt`;
 * `stopped`: shut down.
 */
export type StreamState = 'connecting' | 'connected' | 'waiting' | 'stopped';

/** Why the last connection attempt or connection failed (stable codes, never DingTalk's text). */
export type StreamErrorCode =
  /** The registration failed: the `UpstreamError` code (`dingtalk.invalid_client` for wrong credentials, …). */
  | `dingtalk.${string}`
  /** The WebSocket handshake was refused (HTTP status in `status`) or failed. */
  | 'stream.handshake_failed'
  /** The connection closed or broke. */
  | 'stream.closed'
  /** No frame and no pong for longer than `idleMs + pongTimeoutMs`. */
  | 'stream.idle_timeout';

/** What the client is doing, for `/metrics`, the console and logs. Plain data (JSON-safe). */
export interface StreamStatus {
  state: StreamState;
  /** When `state` began (epoch ms). */
  since: number;
  /** Failed attempts in a row (0 once a connection opens). */
  failures: number;
  /** When the next attempt starts (state `waiting`). */
  nextAttemptAt?: number;
  /** When the current or last connection opened. */
  connectedAt?: number;
  /** The last frame received from DingTalk. */
  lastFrameAt?: number;
  /** The last EVENT push received. */
  lastEventAt?: number;
  lastError?: { code: StreamErrorCode; at: number; status?: number };
  /** Since start: connections opened, EVENT pushes acked SUCCESS / LATER, unreadable ones among them. */
  counts: { connections: number; success: number; later: number; unreadable: number };
}

/** How one EVENT push was answered: `unreadable` pushes are acked SUCCESS too (recorded as failed). */
export type StreamEventOutcome = 'success' | 'later' | 'unreadable';

export interface StreamClient {
  /** Starts connecting (and keeps reconnecting) in the background. */
  start(): void;
  /** Stops reconnecting, lets in-flight events be acked (bounded), closes the connection cleanly. */
  stop(): Promise<void>;
  status(): StreamStatus;
}

const openAnswerSchema = z.object({
  endpoint: z.string().regex(/^wss?:\/\//, 'must be a ws(s) URL'),
  ticket: z.string().min(1),
});

/** Per-connection bookkeeping. */
interface Connection {
  ws: WebSocket;
  /** Events handed to the sink whose ack is not sent yet. */
  inflight: Set<Promise<void>>;
  /** Announced `disconnect` or being stopped: a close is expected, not a failure. */
  retiring: boolean;
  lastActivity: number;
  pingSentAt?: number;
  liveness?: NodeJS.Timeout;
}

const MAX_FRAME_BYTES = 4 * 1024 * 1024;

export function createStreamClient(options: StreamClientOptions): StreamClient {
  const { logger } = options;
  const baseMs = options.reconnectBaseMs ?? 1000;
  const maxMs = options.reconnectMaxMs ?? 60_000;
  const idleMs = options.idleMs ?? 60_000;
  const pongTimeoutMs = options.pongTimeoutMs ?? 10_000;
  const ua = options.ua ?? 'dingtalk-oidc';

  let running = false;
  let current: Connection | undefined;
  const retiring = new Set<Connection>();
  let reconnectTimer: NodeJS.Timeout | undefined;
  /** Bumped by every connect(), so a stale attempt finishing late does nothing. */
  let generation = 0;
  const status: StreamStatus = {
    state: 'stopped',
    since: Date.now(),
    failures: 0,
    counts: { connections: 0, success: 0, later: 0, unreadable: 0 },
  };

  function changed(patch: Partial<StreamStatus> = {}): void {
    if (patch.state !== undefined && patch.state !== status.state) status.since = Date.now();
    Object.assign(status, patch);
    if (status.state !== 'waiting') delete status.nextAttemptAt;
    try {
      options.onStatus?.(snapshot());
    } catch {
      // a reporting hook never breaks the connection
    }
  }

  function snapshot(): StreamStatus {
    return {
      ...status,
      counts: { ...status.counts },
      ...(status.lastError ? { lastError: { ...status.lastError } } : {}),
    };
  }

  /** Registration: a fresh `endpoint?ticket=…` (§10.1). Throws `UpstreamError`. */
  async function openTicket(): Promise<URL> {
    const spec = { operation: STREAM_OPEN_OPERATION };
    let statusCode: number;
    let text: string;
    try {
      const response = await request(new URL(joinUrl(options.apiBaseUrl, STREAM_OPEN_PATH)), {
        method: 'POST',
        // Without Accept the gateway answers XML (§10.1).
        headers: { accept: 'application/json', 'content-type': 'application/json' },
        body: JSON.stringify({
          clientId: options.clientId,
          clientSecret: options.clientSecret,
          subscriptions: [{ type: 'EVENT', topic: '*' }],
          ua,
        }),
        signal: AbortSignal.timeout(options.timeoutMs),
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
        ...(options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher }),
      });
      statusCode = response.statusCode;
      text = await response.body.text();
    } catch (error) {
      throw mapTransportError(error, spec);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (statusCode < 200 || statusCode >= 300) {
      const body = apiErrorSchema.safeParse(json);
      throw mapApiError(statusCode, body.success ? body.data : undefined, spec, json ?? text.slice(0, 500));
    }
    const answer = openAnswerSchema.safeParse(json);
    if (!answer.success) {
      // The body may hold a ticket (a credential for one connection): never logged.
      const body =
        json !== null && typeof json === 'object' && !Array.isArray(json)
          ? withoutTicket(json as Record<string, unknown>)
          : (json ?? text.slice(0, 500));
      throw dingTalkError('dingtalk.bad_response', STREAM_OPEN_OPERATION, { host: 'api', httpStatus: statusCode, body });
    }
    const url = new URL(answer.data.endpoint);
    url.searchParams.set('ticket', answer.data.ticket);
    return url;
  }

  async function connect(): Promise<void> {
    // A connect that comes early (a disconnect) replaces a pending retry: never two sockets.
    if (reconnectTimer) clearTimeout(reconnectTimer);
    reconnectTimer = undefined;
    if (!running) return;
    const mine = ++generation;
    changed({ state: 'connecting' });
    let target: URL;
    try {
      target = await openTicket();
    } catch (error) {
      if (mine !== generation || !running) return;
      const code = error instanceof UpstreamError ? (error.code as StreamErrorCode) : 'dingtalk.unavailable';
      logger.warn({ err: error, code, failures: status.failures + 1 }, 'DingTalk Stream: registering the connection failed');
      return retry({ code, at: Date.now() });
    }
    if (mine !== generation || !running) return;
    open(target, mine);
  }

  function open(target: URL, mine: number): void {
    const ws = new WebSocket(target, {
      handshakeTimeout: options.timeoutMs,
      perMessageDeflate: false,
      maxPayload: MAX_FRAME_BYTES,
      followRedirects: false,
    });
    const connection: Connection = { ws, inflight: new Set(), retiring: false, lastActivity: Date.now() };
    current = connection;
    let opened = false;
    let refusedStatus: number | undefined;

    ws.on('unexpected-response', (_req, res) => {
      refusedStatus = res.statusCode;
      res.resume();
      ws.terminate();
    });
    ws.on('open', () => {
      opened = true;
      connection.lastActivity = Date.now();
      scheduleLiveness(connection);
      logger.info({ endpoint: `${target.origin}${target.pathname}` }, 'DingTalk Stream connected');
      // `failures` is reset by the first frame or pong, not here: a gateway that accepts and closes
      // at once must not bring the backoff back to its start every time.
      changed({
        state: 'connected',
        connectedAt: Date.now(),
        counts: { ...status.counts, connections: status.counts.connections + 1 },
      });
    });
    ws.on('message', (data, isBinary) => {
      connection.lastActivity = Date.now();
      if (status.failures !== 0 && current === connection) changed({ failures: 0 });
      delete connection.pingSentAt;
      status.lastFrameAt = connection.lastActivity;
      if (isBinary) {
        logger.warn('DingTalk Stream: binary frame ignored');
        return;
      }
      onFrame(connection, rawText(data));
    });
    ws.on('pong', () => {
      connection.lastActivity = Date.now();
      if (status.failures !== 0 && current === connection) changed({ failures: 0 });
      delete connection.pingSentAt;
    });
    ws.on('error', (error) => {
      // Followed by 'close'; the reason is logged there.
      logger.debug({ err: error }, 'DingTalk Stream socket error');
    });
    ws.on('close', (code, reason) => {
      if (connection.liveness) clearTimeout(connection.liveness);
      retiring.delete(connection);
      if (current === connection) current = undefined;
      if (connection.retiring || !running || mine !== generation) return;
      if (!opened) {
        logger.warn({ status: refusedStatus, failures: status.failures + 1 }, 'DingTalk Stream: the WebSocket handshake failed');
        return retry({
          code: 'stream.handshake_failed',
          at: Date.now(),
          ...(refusedStatus === undefined ? {} : { status: refusedStatus }),
        });
      }
      const idle = connection.pingSentAt !== undefined && Date.now() - connection.pingSentAt >= pongTimeoutMs;
      logger.warn({ code, reason: reason.toString('utf8').slice(0, 200), idle }, 'DingTalk Stream connection lost; reconnecting');
      retry({ code: idle ? 'stream.idle_timeout' : 'stream.closed', at: Date.now() });
    });
  }

  function onFrame(connection: Connection, text: string): void {
    const push = parseStreamFrame(text);
    switch (push.kind) {
      case 'ping':
        send(connection, pingReply(push.messageId, push.data));
        return;
      case 'disconnect':
        // Already replaced: a repeated announcement must not open yet another connection.
        if (connection.retiring) return;
        logger.info({ reason: push.reason }, 'DingTalk Stream: disconnect announced; opening a new connection');
        retire(connection);
        if (running && current === undefined) void connect();
        return;
      case 'system':
        logger.debug({ topic: push.topic }, 'DingTalk Stream system message');
        return;
      case 'unsupported':
        logger.info({ type: push.type, topic: push.topic }, 'DingTalk Stream: push of a kind not subscribed to; answered 404');
        send(connection, unsupportedReply(push.messageId));
        return;
      case 'invalid':
        logger.warn({ reason: push.reason }, 'DingTalk Stream: unreadable frame ignored (nothing to reply to)');
        return;
      case 'event': {
        status.lastEventAt = Date.now();
        const work = handleEvent(connection, push.messageId, push.event);
        connection.inflight.add(work);
        void work.finally(() => {
          connection.inflight.delete(work);
          if (connection.retiring && connection.inflight.size === 0) connection.ws.close(1000, 'reconnecting');
        });
      }
    }
  }

  async function handleEvent(connection: Connection, messageId: string, event: Parameters<EventSink>[0]): Promise<void> {
    let ack: EventAck;
    try {
      ack = await options.sink(event);
    } catch (error) {
      logger.error({ err: error, eventId: event.id }, 'DingTalk Stream event could not be recorded; answering LATER');
      ack = 'LATER';
    }
    const unreadable = isUnreadable(event);
    const outcome: StreamEventOutcome = ack === 'LATER' ? 'later' : unreadable ? 'unreadable' : 'success';
    if (unreadable) logger.warn({ eventId: event.id, reason: event.reason, ack }, 'DingTalk Stream: unreadable event');
    else logger.info({ eventId: event.id, type: event.type, ack }, 'DingTalk Stream event');
    const counts = { ...status.counts };
    if (ack === 'LATER') counts.later += 1;
    else {
      counts.success += 1;
      if (unreadable) counts.unreadable += 1;
    }
    if (!send(connection, eventAck(messageId, ack))) {
      logger.warn({ eventId: event.id }, 'DingTalk Stream: connection closed before the ack; DingTalk will push the event again');
    }
    changed({ counts });
    try {
      options.onEvent?.(outcome);
    } catch {
      // a reporting hook never breaks the connection
    }
  }

  function send(connection: Connection, frame: string): boolean {
    if (connection.ws.readyState !== WebSocket.OPEN) return false;
    connection.ws.send(frame);
    return true;
  }

  /** Closes `connection` once its events are acked (at most `timeoutMs` later); no reconnect from its close. */
  function retire(connection: Connection): void {
    if (connection.retiring) return;
    connection.retiring = true;
    retiring.add(connection);
    if (connection.liveness) clearTimeout(connection.liveness);
    if (current === connection) current = undefined;
    if (connection.inflight.size === 0) connection.ws.close(1000, 'reconnecting');
    const force = setTimeout(() => connection.ws.terminate(), options.timeoutMs);
    force.unref();
    connection.ws.once('close', () => clearTimeout(force));
  }

  /** Liveness: ping after `idleMs` of silence; replace the connection when no pong follows. */
  function scheduleLiveness(connection: Connection): void {
    const check = (): void => {
      const now = Date.now();
      if (connection.retiring || connection.ws.readyState !== WebSocket.OPEN) return;
      if (connection.pingSentAt !== undefined) {
        const waited = now - connection.pingSentAt;
        if (waited >= pongTimeoutMs) {
          logger.warn({ idleMs: now - connection.lastActivity }, 'DingTalk Stream: no pong; replacing the connection');
          connection.ws.terminate();
          return;
        }
        return arm(pongTimeoutMs - waited);
      }
      const idle = now - connection.lastActivity;
      if (idle >= idleMs) {
        connection.pingSentAt = now;
        connection.ws.ping();
        return arm(pongTimeoutMs);
      }
      arm(idleMs - idle);
    };
    const arm = (ms: number): void => {
      connection.liveness = setTimeout(check, Math.max(ms, 1));
      connection.liveness.unref();
    };
    arm(idleMs);
  }

  function retry(error: NonNullable<StreamStatus['lastError']>): void {
    if (!running) return;
    const failures = status.failures + 1;
    const cap = Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 30));
    // Equal jitter: replicas that lost DingTalk together do not come back together.
    const delay = Math.round(cap / 2 + Math.random() * (cap / 2));
    changed({ state: 'waiting', failures, lastError: error, nextAttemptAt: Date.now() + delay });
    reconnectTimer = setTimeout(() => void connect(), delay);
    reconnectTimer.unref();
  }

  return {
    start() {
      if (running) return;
      running = true;
      void connect();
    },
    async stop() {
      running = false;
      generation += 1;
      if (reconnectTimer) clearTimeout(reconnectTimer);
      reconnectTimer = undefined;
      const connections = [...retiring, ...(current ? [current] : [])];
      current = undefined;
      // Acks of events being handled still go out, within the timeout.
      const pending = connections.flatMap((connection) => [...connection.inflight]);
      if (pending.length > 0) await withTimeout(Promise.allSettled(pending), options.timeoutMs);
      await Promise.all(
        connections.map(async (connection) => {
          connection.retiring = true;
          if (connection.liveness) clearTimeout(connection.liveness);
          const { ws } = connection;
          if (ws.readyState === WebSocket.CLOSED) return;
          const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
          if (ws.readyState === WebSocket.OPEN) ws.close(1000, 'shutting down');
          else ws.terminate();
          // A peer that never answers the close handshake does not hold the shutdown.
          if (!(await withTimeout(closed, 1000))) ws.terminate();
        }),
      );
      changed({ state: 'stopped' });
    },
    status: snapshot,
  };
}

function rawText(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data as ArrayBuffer).toString('utf8');
}

function withoutTicket(body: Record<string, unknown>): Record<string, unknown> {
  const { ticket, ...rest } = body;
  return ticket === undefined ? rest : { ...rest, ticket: '[redacted]' };
}

function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}${path}`;
}

/** Resolves true when `promise` settles within `ms`, false otherwise. */
async function withTimeout(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
