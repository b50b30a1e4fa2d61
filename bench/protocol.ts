/**
 * What bench/run.ts and its two server processes (bench/server-ours.ts, bench/server-bare.ts) say
 * to each other over the Node IPC channel. The parent passes settings in the BENCH_CHILD
 * environment variable (JSON), the child answers with one `ready` (or `failed`) message, and
 * stops when it receives `stop` or when the parent goes away.
 */
import { createServer } from 'node:net';

export interface ChildSettings {
  /** Redis URL of the server's own redis-server. */
  redisUrl: string;
  /** Bare only: `simple` (bench/simple-redis-adapter.ts, the default) or `ours` (src/store/redis-adapter.ts). */
  adapter?: 'simple' | 'ours';
  /** Postgres URL (ours only). */
  databaseUrl?: string;
  /** The port to listen on (ours: the parent needs it before the start, for the emulator's redirect URI). */
  port?: number;
  /** The DingTalk emulator the parent runs (ours only): the DINGTALK_* settings point at it. */
  dingtalk?: { url: string; clientId: string; clientSecret: string; corpId: string };
}

/** Resource servers both servers know, with the signing algorithm of their JWT access tokens. */
export const RESOURCES = {
  rs256: 'https://api.bench.test/rs256',
  es256: 'https://api.bench.test/es256',
} as const;
/** The scope both resource servers define. */
export const RESOURCE_SCOPE = 'read';
/** The redirect URI of the relying party client of both servers. */
export const RP_REDIRECT_URI = 'https://rp.bench.test/callback';

export interface ReadyMessage {
  type: 'ready';
  /** Base URL; also the issuer. */
  url: string;
  clientId: string;
  clientSecret: string;
  /** A relying party (authorization_code + refresh_token, client_secret_basic). */
  rp: { clientId: string; clientSecret: string };
  /**
   * Bare only: a refresh token and an access token (scope openid profile) for the relying party,
   * made with the provider's models (bare has no login); ours gets them from a login in the parent.
   */
  tokens?: { refreshToken: string; accessToken: string };
  /** process.pid of the server (read in /proc/<pid>/stat for CPU time). */
  pid: number;
  /** Free-form facts about the server set-up, copied into the results file. */
  details: Record<string, unknown>;
}

export interface FailedMessage {
  type: 'failed';
  error: string;
}

export type ChildMessage = ReadyMessage | FailedMessage;
export type ParentMessage = { type: 'stop' };

export const BENCH_CHILD_ENV = 'BENCH_CHILD';

export function readChildSettings(): ChildSettings {
  const raw = process.env[BENCH_CHILD_ENV];
  if (!raw) throw new Error(`${BENCH_CHILD_ENV} is not set: start this file through bench/run.ts`);
  return JSON.parse(raw) as ChildSettings;
}

export function send(message: ChildMessage): void {
  if (!process.send) throw new Error('no IPC channel: start this file through bench/run.ts');
  process.send(message);
}

/**
 * A free TCP port on 127.0.0.1. The issuer must be known before the provider is built, so the
 * port is picked first (a tiny race with other processes, acceptable for a benchmark).
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Runs `stop` once when the parent asks, disconnects (dies) or signals, then exits. A benchmark
 * child must never outlive its parent.
 */
export function onStop(stop: () => Promise<void>): void {
  let stopping = false;
  const run = (code: number): void => {
    if (stopping) return;
    stopping = true;
    const timer = setTimeout(() => process.exit(code), 5_000);
    timer.unref();
    stop()
      .catch((error: unknown) => console.error('stop failed:', error))
      .finally(() => process.exit(code));
  };
  process.on('message', (message: ParentMessage) => {
    if (message?.type === 'stop') run(0);
  });
  process.on('disconnect', () => run(0));
  process.on('SIGTERM', () => run(0));
  process.on('SIGINT', () => run(0));
}

/** Reports a start-up failure to the parent, then exits non-zero. */
export function failStart(error: unknown): void {
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  console.error(text);
  const exit = (): never => process.exit(1);
  setTimeout(exit, 1_000).unref();
  if (process.send) process.send({ type: 'failed', error: text } satisfies FailedMessage, exit);
  else exit();
}
