/**
 * The container's commands, for real, without Docker: `node dist/src/cli/index.js migrate`, then
 * `clients add`, then the image's CMD (`… start`), with the image's environment (NODE_ENV=production)
 * and real settings, against the shared PostgreSQL (a database of its own) and Redis (a database
 * number of its own). As in the image, the process runs as an unprivileged user that cannot write
 * to the application folder (when the test runs as root), and the dev dependencies cannot be loaded
 * (without-dev-dependencies.mjs). CI runs `npm run build` before `npm test`; when dist/ is missing
 * or older than the sources, this test builds it.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import pg from 'pg';
import { Redis } from 'ioredis';
import { freePort, TEST_DATABASE_URL } from '../../helpers/bootstrap.js';
import { envOf, imageCommand, repoDockerfile, ROOT } from './dockerfile.js';

const run = promisify(execFile);

const DATABASE = process.env.TEST_PROD_DATABASE ?? 'dingtalk_oidc_test_prod';
/** Not 13–15 (the other integration tests) nor 11–12 (the benchmark). */
const REDIS_DB = Number(process.env.TEST_PROD_REDIS_DB ?? 10);
const REDIS_BASE = /^[^:]+:\/\/[^/?#]*/.exec(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379')![0];
const WITHOUT_DEV_DEPENDENCIES = path.join(import.meta.dirname, 'without-dev-dependencies.mjs');

/**
 * As root, run the commands as `nobody` (the image runs as `node`), for whom nothing under ROOT is
 * writable, as in the image; unless the checkout is not readable for it (then as ourselves).
 */
function unprivileged(entry: string): string[] {
  if (process.getuid?.() !== 0) return [];
  const prefix = ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', '--'];
  try {
    execFileSync(prefix[0]!, [...prefix.slice(1), process.execPath, '-e', `require('fs').accessSync(${JSON.stringify(entry)})`], {
      stdio: 'ignore',
    });
    return prefix;
  } catch {
    return [];
  }
}

function databaseUrl(name: string): string {
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function recreateDatabase(): Promise<void> {
  const admin = new pg.Client({ connectionString: databaseUrl('postgres'), connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch (error) {
    throw new Error(
      `PostgreSQL is not reachable at ${new URL(TEST_DATABASE_URL).host}: start it (see README, "Tests") or set DATABASE_URL`,
      {
        cause: error,
      },
    );
  }
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${DATABASE}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${DATABASE}"`);
  } finally {
    await admin.end();
  }
}

async function flushRedisDatabase(): Promise<void> {
  const redis = new Redis(`${REDIS_BASE}/${REDIS_DB}`, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.flushdb();
  } catch (error) {
    throw new Error(`Redis is not reachable at ${REDIS_BASE}: start it (see README, "Tests") or set REDIS_URL`, { cause: error });
  } finally {
    redis.disconnect();
  }
}

/** dist/ is missing, or older than a source file (a local run after an edit; CI builds first). */
function isStale(entry: string): boolean {
  if (!existsSync(entry)) return true;
  const built = statSync(entry).mtimeMs;
  const newer = (dir: string): boolean =>
    readdirSync(dir, { withFileTypes: true }).some((item) => {
      const full = path.join(dir, item.name);
      return item.isDirectory() ? newer(full) : item.name.endsWith('.ts') && statSync(full).mtimeMs > built;
    });
  return newer(path.join(ROOT, 'src')) || newer(path.join(ROOT, 'migrations'));
}

function secret(): string {
  return randomBytes(32).toString('base64url');
}

describe('production start: the image commands from dist/ with NODE_ENV=production on real PostgreSQL and Redis', function () {
  this.timeout(60_000);
  const { runtime } = repoDockerfile();
  const start = imageCommand(runtime);
  const migrate = [...start.slice(0, -1), 'migrate'];
  const cli = start.slice(0, -1);
  let env: NodeJS.ProcessEnv;
  let issuer: string;
  let server: ChildProcess | undefined;
  let output = { stdout: '', stderr: '' };
  let client: { client_id: string; client_secret: string };
  let asUnprivileged: string[] = [];

  async function command(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const [file, ...args] = [...asUnprivileged, ...argv];
    try {
      const { stdout, stderr } = await run(file!, args, { cwd: ROOT, env, timeout: 30_000 });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  }

  before(async function () {
    const entry = path.join(ROOT, start[1]!);
    if (isStale(entry)) {
      try {
        execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'pipe' });
      } catch (error) {
        // tsc still writes dist/ on type errors (those are `npm run typecheck`'s to report).
        if (!existsSync(entry))
          throw new Error(`npm run build: ${String((error as { stdout?: Buffer }).stdout ?? error)}`, { cause: error });
      }
    }
    asUnprivileged = unprivileged(entry);
    await Promise.all([recreateDatabase(), flushRedisDatabase()]);
    const port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    env = {
      PATH: process.env.PATH,
      ...envOf(runtime), // NODE_ENV=production, PORT
      PORT: String(port),
      HOST: '127.0.0.1',
      ISSUER: issuer, // http is allowed for a loopback issuer
      DATABASE_URL: databaseUrl(DATABASE),
      REDIS_URL: `${REDIS_BASE}/${REDIS_DB}`,
      // Production refuses http DingTalk URLs: the real defaults stay; this test calls no DingTalk API.
      DINGTALK_CLIENT_ID: 'dingprodtestclient01',
      DINGTALK_CLIENT_SECRET: secret(),
      DINGTALK_CORP_ID: 'dingprodtestcorp01',
      KEY_ENCRYPTION_SECRET: secret(),
      COOKIE_SECRETS: `${secret()},${secret()}`,
      // Production serves /metrics only with a token or on its own port.
      METRICS_PORT: String(await freePort()),
      LOG_LEVEL: 'info',
      NODE_OPTIONS: `--import=${WITHOUT_DEV_DEPENDENCIES}`,
    };
    expect(env.NODE_ENV).to.equal('production');
  });

  after(async function () {
    if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
  });

  it('refuses to start before the database is migrated, and says so', async function () {
    const result = await command(start);
    expect(result.code).to.not.equal(0);
    expect(result.stderr).to.match(/needs migrating.*migrate/);
    expect(result.stderr).to.not.match(/\n\s+at /);
  });

  it('migrates with the migrate command (a second run applies nothing)', async function () {
    const first = await command(migrate);
    expect(first.code, first.stderr).to.equal(0);
    expect(first.stdout).to.match(/^applied: /m);
    const second = await command(migrate);
    expect(second.code, second.stderr).to.equal(0);
    expect(second.stdout).to.contain('database is up to date');
  });

  it('registers a service client with the command line', async function () {
    const result = await command([...cli, 'clients', 'add', '--name', 'Production check', '--grant', 'client_credentials', '--json']);
    expect(result.code, result.stderr).to.equal(0);
    client = JSON.parse(result.stdout) as typeof client;
    expect(client.client_secret).to.have.length.of.at.least(43);
  });

  it('starts with the image CMD and answers /healthz', async function () {
    const [file, ...args] = [...asUnprivileged, ...start];
    output = { stdout: '', stderr: '' };
    server = spawn(file!, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    server.stdout!.on('data', (chunk: Buffer) => (output.stdout += chunk.toString()));
    server.stderr!.on('data', (chunk: Buffer) => (output.stderr += chunk.toString()));
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (server.exitCode !== null) expect.fail(`start exited with ${server.exitCode}:\n${output.stderr}\n${output.stdout}`);
      const ok = await fetch(`${issuer}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) expect.fail(`no answer on ${issuer}/healthz within 20 s:\n${output.stderr}\n${output.stdout}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  it('logs JSON lines, one saying the issuer is ready', function () {
    const lines = output.stdout.split('\n').filter((line) => line.trim() !== '');
    const records = lines.map((line) => {
      try {
        return JSON.parse(line) as { msg?: string; issuer?: string };
      } catch {
        return expect.fail(`not a JSON log line: ${line}`);
      }
    });
    expect(records.find((record) => record.msg === 'issuer ready')?.issuer).to.equal(issuer);
    expect(output.stdout + output.stderr).to.not.contain(env.KEY_ENCRYPTION_SECRET);
  });

  it('is ready: PostgreSQL and Redis answer', async function () {
    const response = await fetch(`${issuer}/readyz`);
    expect(response.status).to.equal(200);
    expect(await response.json()).to.deep.include({ status: 'ok' });
  });

  it('serves discovery for its issuer', async function () {
    const response = await fetch(`${issuer}/.well-known/openid-configuration`);
    expect(response.status).to.equal(200);
    const discovery = (await response.json()) as Record<string, unknown>;
    expect(discovery.issuer).to.equal(issuer);
    expect(discovery.token_endpoint).to.equal(`${issuer}/token`);
    expect((await fetch(discovery.jwks_uri as string)).status).to.equal(200);
  });

  it('issues a client_credentials token to the client registered from the command line', async function () {
    const basic = `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}`;
    const response = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
      body: 'grant_type=client_credentials',
    });
    const body = (await response.json()) as { access_token?: string; token_type?: string };
    expect(response.status, JSON.stringify(body)).to.equal(200);
    expect(body.token_type).to.equal('Bearer');
    const introspection = await fetch(`${issuer}/token/introspection`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
      body: new URLSearchParams({ token: body.access_token! }),
    });
    expect(await introspection.json()).to.deep.include({ active: true, client_id: client.client_id });
  });

  it('stops gracefully on SIGTERM: exit code 0 within 5 s', async function () {
    const running = server!;
    const exited = new Promise<number | null>((resolve) => running.once('exit', (code) => resolve(code)));
    const started = Date.now();
    running.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 5000))]);
    expect(code, output.stderr).to.equal(0);
    expect(Date.now() - started).to.be.below(5000);
    expect(output.stdout).to.contain('shutting down');
  });
});
