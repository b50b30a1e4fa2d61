/**
 * The whole product on services the fault tests may break: a private Redis and a private
 * PostgreSQL (test/helpers/services.ts, their own loopback ports), the DingTalk emulator on its own
 * port, and the server built by `startServer` exactly as `start` builds it. A fault test stops and
 * restarts those services under the running app; the app itself is never restarted.
 */
import { expect } from 'chai';
import { loadConfig, type DeepPartial } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/schema.js';
import { migrate } from '../../../src/db/migrator.js';
import { createDatabase } from '../../../src/db/sequelize.js';
import { createEmulator } from '../../../src/emulator/index.js';
import { createLogger } from '../../../src/log.js';
import { startServer } from '../../../src/app/server.js';
import { freePort } from '../../helpers/bootstrap.js';
import { CORP_ID, type LoginWorld } from '../../helpers/login-flow.js';
import { type PrivatePostgres, type PrivateRedis, startPrivatePostgres, startPrivateRedis } from '../../helpers/services.js';

export interface FaultWorld extends LoginWorld {
  redis: PrivateRedis;
  postgres: PrivatePostgres;
}

const DINGTALK_APP = { clientId: 'dingtest-app', clientSecret: 'dingtest-secret-0123456789' };

export async function startFaultWorld(overrides: DeepPartial<Config> = {}): Promise<FaultWorld> {
  // Whatever was started is stopped again, in reverse order, also when a later step fails.
  const parts: Partial<FaultWorld> = {};
  const close = async (): Promise<void> => {
    await parts.server?.close().catch(() => undefined);
    await parts.dingtalk?.close().catch(() => undefined);
    await Promise.all([parts.redis?.close(), parts.postgres?.close()]);
  };
  try {
    const [redis, postgres] = await Promise.allSettled([startPrivateRedis(), startPrivatePostgres()]);
    if (redis.status === 'fulfilled') parts.redis = redis.value;
    if (postgres.status === 'fulfilled') parts.postgres = postgres.value;
    for (const result of [redis, postgres]) if (result.status === 'rejected') throw result.reason;

    const db = createDatabase(parts.postgres!.url, { poolMax: 1 });
    try {
      await migrate(db);
    } finally {
      await db.close();
    }

    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    parts.emulator = createEmulator({ ...DINGTALK_APP, corpId: CORP_ID, redirectUris: [`${issuer}/dingtalk/callback`] });
    parts.dingtalk = await parts.emulator.listen(0, '127.0.0.1');

    const config = loadConfig({
      env: { NODE_ENV: 'test', DATABASE_URL: parts.postgres!.url, REDIS_URL: parts.redis!.url },
      overrides: {
        // Each probe checks afresh: these tests stop a service and look at the very next probe.
        readinessCacheMs: 0,
        ...overrides,
        ...(process.env.FAULT_LOG_LEVEL ? { logLevel: process.env.FAULT_LOG_LEVEL as Config['logLevel'] } : {}),
        port,
        host: '127.0.0.1',
        issuer,
        dingtalk: {
          ...DINGTALK_APP,
          corpId: CORP_ID,
          loginBaseUrl: parts.dingtalk.url,
          apiBaseUrl: parts.dingtalk.url,
          oapiBaseUrl: parts.dingtalk.url,
          timeoutMs: 1500,
          ...overrides.dingtalk,
        },
      },
    });
    const running = await startServer(config, createLogger(config));
    parts.server = Object.assign(running, { issuer, config });
  } catch (error) {
    await close();
    throw error;
  }
  // `parts` is the world itself: close() sees a replaced world.dingtalk.
  return Object.assign(parts, { close }) as FaultWorld;
}

/** A `client_credentials` client registered in the world's database. */
export async function addServiceClient(world: FaultWorld, name = 'Billing job'): Promise<{ clientId: string; clientSecret: string }> {
  const created = await world.server.services.clientStore.add({ name, grantTypes: ['client_credentials'] });
  return { clientId: created.clientId, clientSecret: created.clientSecret! };
}

export interface Timed {
  status: number;
  body: Record<string, unknown>;
  text: string;
  ms: number;
}

/** POST /token with grant_type=client_credentials; status, JSON body and how long it took. */
export async function clientCredentials(world: FaultWorld, client: { clientId: string; clientSecret: string }): Promise<Timed> {
  return timedFetch(`${world.server.issuer}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`,
    },
    body: 'grant_type=client_credentials',
  });
}

/**
 * fetch, timed. A request that hangs fails the test after `giveUpMs` (well after any sane answer)
 * with a message saying so, instead of running into the mocha timeout.
 */
export async function timedFetch(url: string, init: RequestInit = {}, giveUpMs = 15_000): Promise<Timed> {
  const started = Date.now();
  let response: Response;
  try {
    response = await fetch(url, { ...init, signal: AbortSignal.timeout(giveUpMs) });
  } catch (error) {
    if ((error as Error).name === 'TimeoutError') expect.fail(`${new URL(url).pathname} hung: no answer within ${giveUpMs} ms`);
    throw error;
  }
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = {};
  }
  return { status: response.status, body, text, ms: Date.now() - started };
}

/** Poll `check` until it holds; fails with the last observation after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T>, accept: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await check();
    if (accept(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect.fail(`condition not met within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
}

/** Nothing internal in a body: no stack frames, no file paths, no driver error text. */
export function expectNoInternals(text: string): void {
  expect(text).to.not.match(/\n\s+at |node_modules|\/src\/|ECONNREFUSED|Sequelize|ioredis|Error:/);
}
