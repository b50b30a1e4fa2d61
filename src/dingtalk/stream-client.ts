/**
 * DingTalk Stream mode client (dingtalk-api.md §10): org events over a WebSocket this server opens,
 * so no public callback URL is needed.
 *
 * One connection at a time, kept for the life of the process:
 * 1. Registration (stream-open.ts) → a fresh `endpoint?ticket=…` (§10.1); built here rather than
 *    with the official `dingtalk-stream` package, which hard-codes api.dingtalk.com (§10.7/1) and
 *    acks synchronously.
 * 2. The WebSocket at `endpoint?ticket=…` (§10.2); a ticket opens one connection, so every
 *    (re)connect asks for a new one.
 * 3. Frames (stream-frame-handler.ts): SYSTEM `ping` is answered at once; `disconnect` opens a new
 *    connection and closes this one once its events are acked (§10.5); each EVENT goes to the sink
 *    (the event inbox) and is acked with its answer.
 * 4. A drop, a refused ticket or a failed registration is retried by itself with exponential backoff
 *    and jitter (§10.6); so is a silent connection (stream-connection.ts): after `idleMs` without a
 *    frame a WebSocket ping is sent, and without a pong (or any frame) within `pongTimeoutMs` the
 *    connection is replaced.
 * Every replica may hold a connection: DingTalk gives each push to one of them (§10.6), and the inbox
 * dedupes by event id. Knows nothing of Koa; reports through `onStatus`/`onEvent` (stream-status.ts)
 * and the logger. This file is the lifecycle: connect, reconnect, retire, stop.
 */
import type { Dispatcher } from 'undici';
import WebSocket from 'ws';
import type { Logger } from '../log.js';
import { UpstreamError } from '../errors/app-error.js';
import type { EventSink } from './directory-event.js';
import { rawText, watchSilence, type Connection } from './stream-connection.js';
import { createFrameHandler } from './stream-frame-handler.js';
import { openStreamTicket } from './stream-open.js';
import { createStatusBoard, type StreamErrorCode, type StreamEventOutcome, type StreamStatus } from './stream-status.js';

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

export interface StreamClient {
  /** Starts connecting (and keeps reconnecting) in the background. */
  start(): void;
  /** Stops reconnecting, lets in-flight events be acked (bounded), closes the connection cleanly. */
  stop(): Promise<void>;
  status(): StreamStatus;
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
  const board = createStatusBoard(options.onStatus);
  const status = board.current;
  const onFrame = createFrameHandler({
    sink: options.sink,
    logger,
    board,
    onEvent: options.onEvent,
    onDisconnect(connection) {
      retire(connection);
      if (running && current === undefined) void connect();
    },
  });
  const changed = (patch?: Partial<StreamStatus>): void => board.changed(patch);

  async function connect(): Promise<void> {
    // A connect that comes early (a disconnect) replaces a pending retry: never two sockets.
    if (reconnectTimer) clearTimeout(reconnectTimer);
    reconnectTimer = undefined;
    if (!running) return;
    const mine = ++generation;
    changed({ state: 'connecting' });
    let target: URL;
    try {
      target = await openStreamTicket({
        clientId: options.clientId,
        clientSecret: options.clientSecret,
        apiBaseUrl: options.apiBaseUrl,
        timeoutMs: options.timeoutMs,
        ua,
        dispatcher: options.dispatcher,
      });
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
      watchSilence(connection, { idleMs, pongTimeoutMs, logger });
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
    status: () => board.snapshot(),
  };
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
