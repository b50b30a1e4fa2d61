/** One Stream WebSocket connection: its bookkeeping, sending on it, and the silence check. */
import WebSocket from 'ws';
import type { Logger } from '../log.js';

/** Per-connection bookkeeping. */
export interface Connection {
  ws: WebSocket;
  /** Events handed to the sink whose ack is not sent yet. */
  inflight: Set<Promise<void>>;
  /** Announced `disconnect` or being stopped: a close is expected, not a failure. */
  retiring: boolean;
  lastActivity: number;
  pingSentAt?: number;
  liveness?: NodeJS.Timeout;
}

/** Sends `frame` if the connection is open; false when it is not (the frame is dropped). */
export function send(connection: Connection, frame: string): boolean {
  if (connection.ws.readyState !== WebSocket.OPEN) return false;
  connection.ws.send(frame);
  return true;
}

/**
 * Liveness: ping after `idleMs` of silence; replace the connection (terminate it, so its close
 * reconnects) when no pong or frame follows within `pongTimeoutMs`.
 */
export function watchSilence(connection: Connection, settings: { idleMs: number; pongTimeoutMs: number; logger: Logger }): void {
  const { idleMs, pongTimeoutMs, logger } = settings;
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

export function rawText(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data as ArrayBuffer).toString('utf8');
}
