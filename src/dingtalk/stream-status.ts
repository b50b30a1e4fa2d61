/** What the Stream client is doing, published on every change (metrics, the console, logs). */

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

/** The client's one status, and its publication to `onStatus`. */
export interface StatusBoard {
  /** The live status. Fields set directly (`lastFrameAt`, `lastEventAt`) are published with the next change. */
  readonly current: StreamStatus;
  /** Applies `patch` and tells `onStatus`. */
  changed(patch?: Partial<StreamStatus>): void;
  /** A copy, safe to hand out. */
  snapshot(): StreamStatus;
}

export function createStatusBoard(onStatus?: (status: StreamStatus) => void): StatusBoard {
  const status: StreamStatus = {
    state: 'stopped',
    since: Date.now(),
    failures: 0,
    counts: { connections: 0, success: 0, later: 0, unreadable: 0 },
  };

  function snapshot(): StreamStatus {
    return {
      ...status,
      counts: { ...status.counts },
      ...(status.lastError ? { lastError: { ...status.lastError } } : {}),
    };
  }

  function changed(patch: Partial<StreamStatus> = {}): void {
    if (patch.state !== undefined && patch.state !== status.state) status.since = Date.now();
    Object.assign(status, patch);
    if (status.state !== 'waiting') delete status.nextAttemptAt;
    try {
      onStatus?.(snapshot());
    } catch {
      // a reporting hook never breaks the connection
    }
  }

  return { current: status, changed, snapshot };
}
