/**
 * Test wiring on real services: Postgres (DATABASE_URL, default a `dingtalk_oidc_test` database
 * on 127.0.0.1:5432) and Redis (REDIS_URL's server, database 15). A missing service stops the run
 * with a message saying what to start; nothing is skipped silently.
 */
import { createServer } from 'node:net';
import pg from 'pg';
import { Redis } from 'ioredis';
import { loadConfig, type DeepPartial } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { migrate } from '../../src/db/migrator.js';
import { createDatabase } from '../../src/db/sequelize.js';
import { createLogger, type LoggerOptions } from '../../src/log.js';
import { type RunningServer, startServer } from '../../src/app/server.js';

export const TEST_DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/dingtalk_oidc_test';
const REDIS_BASE = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** TEST_REDIS_DB lets parallel runs (several developers on one machine) keep apart. */
export const TEST_REDIS_DB = Number(process.env.TEST_REDIS_DB ?? 15);
export const TEST_REDIS_URL = `${/^[^:]+:\/\/[^/?#]*/.exec(REDIS_BASE)?.[0] ?? REDIS_BASE}/${TEST_REDIS_DB}`;

let prepared: Promise<void> | undefined;

/** Once per run: make sure both services answer, recreate the schema and migrate. */
export function prepareServices(): Promise<void> {
  prepared ??= (async () => {
    await ensureDatabase();
    const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      await redis.ping();
    } catch (error) {
      throw new Error(`Redis is not reachable at ${REDIS_BASE}: start it (see README, "Tests") or set REDIS_URL`, {
        cause: error,
      });
    } finally {
      redis.disconnect();
    }
    const db = createDatabase(TEST_DATABASE_URL, { poolMax: 2 });
    try {
      await db.sequelize.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public;');
      await migrate(db);
    } finally {
      await db.close();
    }
  })();
  return prepared;
}

async function ensureDatabase(): Promise<void> {
  const target = new URL(TEST_DATABASE_URL);
  const name = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(TEST_DATABASE_URL);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(`PostgreSQL is not reachable at ${target.host}: start it (see README, "Tests") or set DATABASE_URL`, { cause: error });
  }
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await client.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
  } finally {
    await client.end();
  }
}

/** Empty every table (the schema stays) and the test Redis database. */
/**
 * A database of its own beside the test database (`<test database>_<suffix>`), dropped and created
 * empty; its URL. For tests that need a database in a state of their own (no tables, some
 * migrations applied).
 */
export async function freshDatabase(suffix: string): Promise<string> {
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `${url.pathname}_${suffix}`;
  const admin = new URL(TEST_DATABASE_URL);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const name = url.pathname.slice(1);
    await client.query(`DROP DATABASE IF EXISTS "${name}"`);
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  return url.toString();
}

export async function resetState(): Promise<void> {
  await prepareServices();
  const db = createDatabase(TEST_DATABASE_URL, { poolMax: 1 });
  try {
    await db.sequelize.query(
      'TRUNCATE accounts, roles, account_roles, role_rules, clients, resource_servers, signing_keys, audit_events, consents, inbox_events RESTART IDENTITY CASCADE',
    );
  } finally {
    await db.close();
  }
  const redis = new Redis(TEST_REDIS_URL);
  try {
    await redis.flushdb();
  } finally {
    redis.disconnect();
  }
}

/** The test configuration: real Postgres and Redis, quiet logs, overrides applied last. */
export function testConfig(overrides: DeepPartial<Config> = {}): Config {
  return loadConfig({
    env: { NODE_ENV: 'test', DATABASE_URL: TEST_DATABASE_URL, REDIS_URL: TEST_REDIS_URL },
    overrides,
  });
}

/**
 * A port free now, for a server a test starts. Chosen below Linux's ephemeral range (32768–60999):
 * there, the suite's own outgoing connections can take the port between this check and the
 * server's bind (seen with a Redis Cluster bus port).
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await canListen(port)) return port;
  }
  return listenOnce(0);
}

async function canListen(port: number): Promise<boolean> {
  return listenOnce(port).then(
    () => true,
    () => false,
  );
}

function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : port));
    });
  });
}

export interface TestServer extends RunningServer {
  issuer: string;
  config: Config;
}

/** Start the whole product on a free loopback port, issuer = its URL. */
export async function startTestServer(
  overrides: DeepPartial<Config> = {},
  port?: number,
  /** Where log lines go (a test that reads them); default: stdout at the configured level. */
  logger?: LoggerOptions,
): Promise<TestServer> {
  await prepareServices();
  const listenPort = port ?? (await freePort());
  const issuer = overrides.issuer ?? `http://127.0.0.1:${listenPort}`;
  const config = testConfig({ ...overrides, port: listenPort, host: '127.0.0.1', issuer });
  const running = await startServer(config, createLogger(config, logger));
  return Object.assign(running, { issuer, config });
}
