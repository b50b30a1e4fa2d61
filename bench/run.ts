/**
 * `npm run bench`: throughput, latency and CPU cost per request of discovery, JWKS,
 * client_credentials (opaque, JWT RS256, JWT ES256), introspection, the refresh-token grant and
 * userinfo, measured on
 *   "ours": the product as it is deployed: the built server (`node dist/src/cli/index.js start`,
 *      NODE_ENV=production, one worker), set up through the CLI;
 *   "ours-test": the product in test mode under tsx with DingTalk pointed at the emulator
 *      (bench/server-ours.ts), only for what needs a login (refresh_token, userinfo, login);
 *   "bare": the baseline, a bare oidc-provider 9 with the simplest correct Redis adapter
 *      (bench/server-bare.ts + bench/simple-redis-adapter.ts, built), and
 *   "bare-our-adapter": the same bare provider on our Redis adapter (the second baseline: the gap
 *      between the two baselines is what our adapter costs),
 * each in a process of its own (pinned to CPU 0 with taskset when available) with a redis-server
 * of its own (not pinned), whose CPU time is counted in the server's. Loaded from this process with
 * autocannon, in alternation. Reports ratios measured in the same round; never asserts on speed.
 * Also complete DingTalk logins per second through the emulator (ours-test only), and the RSS of
 * each server. See bench/README.md.
 *
 * Settings (environment, all optional): BENCH_DATABASE_URL, BENCH_REDIS_SERVER (redis-server
 * binary), BENCH_ROUNDS (5), BENCH_DURATION (4 s), BENCH_WARMUP (1 s), BENCH_CONNECTIONS (16),
 * BENCH_PIN (1; 0 = no taskset), BENCH_CPU_PROF (1 = write V8 CPU profiles of the servers to
 * bench/results/profiles/; slows them down, so the figures of such a run are not comparable with
 * normal runs), BENCH_OURS_NODE_ARGS (node flags for ours only), BENCH_OURS_ENV (environment
 * settings for ours only, e.g. LOG_LEVEL=warn).
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import pg from 'pg';
import { createEmulator, defaultSeed, type RunningEmulator } from '../src/emulator/index.js';
import { createRedis, type RedisClient } from '../src/store/redis.js';
import { Browser, formOf } from '../test/helpers/browser.js';
import {
  BENCH_CHILD_ENV,
  type ChildMessage,
  type ChildSettings,
  freePort,
  RESOURCE_SCOPE,
  RESOURCES,
  RP_REDIRECT_URI,
  type ReadyMessage,
} from './protocol.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const RESULTS_DIR = path.join(ROOT, 'bench', 'results');

const env = process.env;
const ROUNDS = positiveInt(env.BENCH_ROUNDS, 5);
const DURATION_S = positiveInt(env.BENCH_DURATION, 4);
const WARMUP_S = positiveInt(env.BENCH_WARMUP, 1);
const CONNECTIONS = positiveInt(env.BENCH_CONNECTIONS, 16);
/** Logins in flight at once in the login scenario (each is a chain of ~10 requests). */
const LOGIN_CONCURRENCY = positiveInt(env.BENCH_LOGIN_CONCURRENCY, 8);
/** Only these scenarios (comma list), e.g. BENCH_SCENARIOS=discovery,jwks. */
const ONLY = env.BENCH_SCENARIOS?.split(',')
  .map((name) => name.trim())
  .filter(Boolean);
const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/dingtalk_oidc_bench';
const DATABASE_URL = env.BENCH_DATABASE_URL?.trim() || DEFAULT_DATABASE_URL;
const REDIS_SERVER = env.BENCH_REDIS_SERVER?.trim() || 'redis-server';
const START_TIMEOUT_MS = 90_000;

type ServerName = 'ours' | 'ours-test' | 'bare' | 'bare-our-adapter';
/** Scenarios that need a person's tokens: ours gets them from a login through the emulator. */
const LOGIN_SCENARIOS: ReadonlySet<string> = new Set(['refresh_token', 'userinfo', 'login']);
const HTTP_SCENARIOS = [
  'discovery',
  'jwks',
  'client_credentials',
  'cc_jwt_rs256',
  'cc_jwt_es256',
  'introspection',
  'refresh_token',
  'userinfo',
] as const;
type HttpScenario = (typeof HTTP_SCENARIOS)[number];
type ScenarioName = HttpScenario | 'login';
/** People of the emulator's seed who may sign in (active members of the corp). */
const LOGIN_USERS = ['ZJr4n0Yb8Wq2iPbVxXh3aQiEiE', 'Ub9c2Kp7vQ0m3sTtLw5dHAiEiE', 'Vw3LpS8dK1fJ6hQ0aZ9mRAiEiE'];

/** A redis-server of one target's own, so its CPU time and commands are that target's alone. */
interface OwnRedis {
  url: string;
  pid: number;
  process: ChildProcess;
  client: RedisClient;
}

interface Target {
  name: ServerName;
  child: ChildProcess;
  redis: OwnRedis;
  ready: ReadyMessage;
  stderr: string[];
  /** Authorization header value (client_secret_basic). */
  authorization: string;
  /** A live opaque token of this server, introspected by the introspection scenario. */
  liveToken: string;
  /** Authorization header of the relying party client. */
  rpAuthorization: string;
  /** The relying party's refresh token (refresh_token scenario) and access token (userinfo). */
  refreshToken: string;
  accessToken: string;
  /** VmRSS in MiB: after start (idle, before any load) and after the runs (idle again); VmHWM: peak. */
  rss: { idleAfterStart?: number; idleAfterRuns?: number; peak?: number };
  /** Set once we asked it to stop: its exit is expected then. */
  stopping?: boolean;
}

interface RunResult {
  scenario: ScenarioName;
  server: ServerName;
  round: number;
  requests: number;
  durationS: number;
  reqPerSec: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyMeanMs: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  serverCpuMs: number;
  /** CPU time of the server process and of its own redis-server, per response. */
  serverCpuMsPerReq: number;
  /** The server process alone (node), per response. */
  nodeCpuMsPerReq: number;
  /** Node CPU time ÷ wall time of the run: near 100 % means the server was CPU-bound. */
  serverCpuPercent: number;
  redisCpuMsPerReq: number;
  redisCommandsPerReq: number;
  /** Response bytes (headers + body) per response, as autocannon read them. */
  bytesPerResponse: number;
}

interface Summary {
  scenario: ScenarioName;
  server: ServerName;
  rounds: number;
  reqPerSec: number;
  latencyMeanMs: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  serverCpuMsPerReq: number;
  nodeCpuMsPerReq: number;
  serverCpuPercent: number;
  redisCpuMsPerReq: number;
  redisCommandsPerReq: number;
  bytesPerResponse: number;
  non2xx: number;
  errors: number;
  reqPerSecPerRound: number[];
}

function positiveInt(value: string | undefined, fallback: number): number {
  if (value === undefined || value.trim() === '') return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new Error(`expected a positive integer, got "${value}"`);
  return parsed;
}

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

function loud(line: string): void {
  const bar = '!'.repeat(78);
  process.stdout.write(`\n${bar}\n!!! ${line}\n${bar}\n\n`);
}

/** Create the benchmark database when it is missing (ours-test migrates it on start). */
async function ensureDatabase(url: string, recreate = false): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  const parsed = new URL(url);
  const client = new pg.Client({
    host: parsed.hostname,
    port: Number(parsed.port || 5432),
    user: decodeURIComponent(parsed.username || 'postgres'),
    password: decodeURIComponent(parsed.password),
    database: 'postgres',
  });
  try {
    await client.connect();
    if (recreate) await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE "${name}"`);
  } catch (error) {
    throw new Error(`cannot prepare PostgreSQL database ${name} (set BENCH_DATABASE_URL): ${(error as Error).message}`, {
      cause: error,
    });
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Waits until something accepts TCP connections on 127.0.0.1:port. */
async function waitForPort(port: number, what: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited during start (code ${child.exitCode})`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await sleep(50);
  }
  throw new Error(`${what} did not listen on ${port} within ${START_TIMEOUT_MS / 1000} s`);
}

/** A redis-server of its own for one target: no persistence, not pinned, stopped with the bench. */
async function startRedisServer(): Promise<OwnRedis> {
  const port = await freePort();
  const child = spawn(
    REDIS_SERVER,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'],
    { stdio: ['ignore', 'ignore', 'ignore'] },
  );
  const spawned = new Promise<never>((_, reject) =>
    child.once('error', (error) => reject(new Error(`cannot run ${REDIS_SERVER}: ${error.message}`))),
  );
  await Promise.race([waitForPort(port, 'redis-server', child), spawned]);
  const url = `redis://127.0.0.1:${port}`;
  const client = createRedis(url);
  client.on('error', () => {});
  await client.ping();
  return { url, pid: child.pid!, process: child, client };
}

async function stopRedisServer(redis: OwnRedis): Promise<void> {
  redis.client.disconnect();
  if (redis.process.exitCode !== null || redis.process.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => redis.process.once('exit', () => resolve()));
  redis.process.kill('SIGTERM');
  await exited;
}

/** Is `taskset -c 0` usable here (installed, CPU 0 in our affinity mask)? */
function canPin(): boolean {
  if (env.BENCH_PIN === '0') return false;
  const probe = spawnSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
  return probe.status === 0;
}

/** Spawns node (pinned when asked) with the profile and ours-only flags; collects its output lines. */
function spawnNode(
  name: ServerName,
  script: string[],
  childEnv: NodeJS.ProcessEnv,
  pin: boolean,
  stdio: 'ipc' | 'no-stdout',
): { child: ChildProcess; stderr: string[] } {
  const profile =
    env.BENCH_CPU_PROF === '1'
      ? // One folder per server: tsx's module-hooks thread writes a profile of its own (the small one).
        ['--cpu-prof', `--cpu-prof-dir=${path.join(RESULTS_DIR, 'profiles', `${name}-${Date.now()}`)}`]
      : [];
  // BENCH_OURS_NODE_ARGS: node flags for ours only (e.g. --max-semi-space-size=2), to measure
  // what a runtime setting costs against the same bare server.
  const extra = name === 'ours' ? (env.BENCH_OURS_NODE_ARGS ?? '').split(/\s+/).filter(Boolean) : [];
  const nodeArgs = [...profile, ...extra, ...script];
  // taskset execs node, so the child's pid is the server's pid.
  const [command, args] = pin ? ['taskset', ['-c', '0', process.execPath, ...nodeArgs]] : [process.execPath, nodeArgs];
  const child = spawn(command, args, {
    cwd: ROOT,
    env: childEnv,
    stdio: stdio === 'ipc' ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  const collect = (stream: NodeJS.ReadableStream | null, label: string): void => {
    let rest = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) if (line.trim() && stderr.length < 1000) stderr.push(`${label}${line}`);
    });
  };
  if (stdio === 'ipc') collect(child.stdout, 'stdout: ');
  // Production logs one line per request at info on stdout: into a pipe, as under a container
  // runtime or systemd, read and dropped here.
  else child.stdout?.resume();
  collect(child.stderr, '');
  return { child, stderr };
}

/** A bench child that reports over IPC (bench/protocol.ts): ours-test (tsx) and the baselines (built). */
function startChild(name: ServerName, script: string[], settings: ChildSettings, redis: OwnRedis, pin: boolean): Promise<Target> {
  const { child, stderr } = spawnNode(name, script, { ...process.env, [BENCH_CHILD_ENV]: JSON.stringify(settings) }, pin, 'ipc');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} server did not start within ${START_TIMEOUT_MS / 1000} s\n${stderr.join('\n')}`));
    }, START_TIMEOUT_MS);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`${name} server could not be spawned: ${error.message}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} server exited during start (code ${code}, signal ${signal})\n${stderr.join('\n')}`));
    });
    child.once('message', (message: ChildMessage) => {
      clearTimeout(timer);
      if (message.type === 'failed') {
        reject(new Error(`${name} server failed to start:\n${message.error}\n${stderr.join('\n')}`));
        return;
      }
      resolve({
        name,
        child,
        redis,
        ready: message,
        stderr,
        authorization: basic(message.clientId, message.clientSecret),
        rpAuthorization: basic(message.rp.clientId, message.rp.clientSecret),
        liveToken: '',
        refreshToken: message.tokens?.refreshToken ?? '',
        accessToken: message.tokens?.accessToken ?? '',
        rss: {},
      });
    });
  });
}

/**
 * Ours as it is deployed: the built CLI, NODE_ENV=production, one worker, default settings (rate
 * limits, metrics, request ids, access log at info, audit), a database of its own re-created for
 * each run. Set up the way an operator would: `migrate`, `resource-servers add`, `clients add`.
 */
async function startProduction(databaseUrl: string, redis: OwnRedis, pin: boolean): Promise<Target> {
  await ensureDatabase(databaseUrl, true);
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const productionEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'production',
    PORT: String(port),
    HOST: '127.0.0.1',
    ISSUER: issuer,
    DATABASE_URL: databaseUrl,
    REDIS_URL: redis.url,
    KEY_ENCRYPTION_SECRET: randomBytes(32).toString('base64url'),
    COOKIE_SECRETS: randomBytes(32).toString('base64url'),
    DINGTALK_CLIENT_ID: 'dingbench',
    DINGTALK_CLIENT_SECRET: randomBytes(20).toString('hex'),
    DINGTALK_CORP_ID: 'dingbench',
    // Production wants /metrics protected: a token (the route and its cost stay as deployed).
    METRICS_TOKEN: randomBytes(24).toString('base64url'),
    WEB_CONCURRENCY: '1',
    // BENCH_OURS_ENV="LOG_LEVEL=warn …": settings for ours only, to measure what a feature costs.
    ...Object.fromEntries(
      (env.BENCH_OURS_ENV ?? '')
        .split(/\s+/)
        .filter(Boolean)
        .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
    ),
  };
  const cliPath = path.join(ROOT, 'dist', 'src', 'cli', 'index.js');
  const cli = (...args: string[]): string => {
    const result = spawnSync(process.execPath, [cliPath, ...args], { cwd: ROOT, env: productionEnv, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`ours: \`${args.join(' ')}\` failed (${result.status}): ${result.stderr}${result.stdout}`);
    return result.stdout;
  };
  cli('migrate');
  for (const [key, identifier] of Object.entries(RESOURCES)) {
    cli(
      'resource-servers',
      'add',
      identifier,
      '--name',
      `bench ${key}`,
      '--scope',
      RESOURCE_SCOPE,
      '--format',
      'jwt',
      '--ttl',
      '600',
      '--alg',
      key === 'es256' ? 'ES256' : 'RS256',
    );
  }
  const added = JSON.parse(
    cli(
      'clients',
      'add',
      '--name',
      'bench',
      '--grant',
      'client_credentials',
      ...Object.values(RESOURCES).flatMap((r) => ['--resource', r]),
      '--json',
    )
      .trim()
      .split('\n')
      .pop()!,
  ) as { client_id: string; client_secret: string };

  const { child, stderr } = spawnNode('ours', [cliPath, 'start'], productionEnv, pin, 'no-stdout');
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code, signal) =>
      reject(new Error(`ours exited during start (code ${code}, signal ${signal})\n${stderr.join('\n')}`)),
    ),
  );
  const ready = (async (): Promise<void> => {
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline && child.exitCode === null) {
      const status = await fetch(`${issuer}/readyz`).then(
        (response) => response.status,
        () => 0,
      );
      if (status === 200) return;
      await sleep(100);
    }
    child.kill('SIGKILL');
    throw new Error(`ours did not become ready within ${START_TIMEOUT_MS / 1000} s\n${stderr.join('\n')}`);
  })();
  await Promise.race([ready, exited]);
  child.removeAllListeners('exit');
  return {
    name: 'ours',
    child,
    redis,
    ready: {
      type: 'ready',
      url: issuer,
      clientId: added.client_id,
      clientSecret: added.client_secret,
      rp: { clientId: '', clientSecret: '' },
      pid: child.pid!,
      details: {
        issuer,
        start: 'node dist/src/cli/index.js start',
        env: 'NODE_ENV=production, WEB_CONCURRENCY=1, every other setting at its default (config/default.json + production.json)',
        resources: RESOURCES,
      },
    },
    stderr,
    authorization: basic(added.client_id, added.client_secret),
    rpAuthorization: '',
    liveToken: '',
    refreshToken: '',
    accessToken: '',
    rss: {},
  };
}

function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/** Resident set size of a process, in MiB (/proc/<pid>/status VmRSS; VmHWM: its peak so far). */
function rssMiB(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : NaN;
}

async function stopChild(target: Target): Promise<void> {
  const { child } = target;
  if (child.exitCode !== null || child.signalCode !== null) return;
  target.stopping = true;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (child.connected) child.send({ type: 'stop' });
  else child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 8_000);
  await exited;
  clearTimeout(timer);
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of a process (all its threads), in milliseconds. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Field 2 (comm) may contain spaces; fields after it start at "state" (field 3).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  return ((utime + stime) * 1000) / CLK_TCK;
}

interface RedisStats {
  commands: number;
}

async function redisStats(client: RedisClient): Promise<RedisStats> {
  const text = await client.info('stats');
  const value = (key: string): number => Number(new RegExp(`^${key}:([0-9.]+)`, 'm').exec(text)?.[1] ?? NaN);
  return { commands: value('total_commands_processed') };
}

const FORM = 'application/x-www-form-urlencoded';

interface ScenarioRequest {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
}

function scenarioRequest(scenario: HttpScenario, target: Target): ScenarioRequest {
  const post = (path: string, body: Record<string, string>, authorization = target.authorization): ScenarioRequest => ({
    method: 'POST',
    path,
    headers: { authorization, 'content-type': FORM },
    body: new URLSearchParams(body).toString(),
  });
  switch (scenario) {
    case 'discovery':
      return { method: 'GET', path: '/.well-known/openid-configuration', headers: {} };
    case 'jwks':
      return { method: 'GET', path: '/jwks', headers: {} };
    case 'client_credentials':
      return post('/token', { grant_type: 'client_credentials' });
    case 'cc_jwt_rs256':
      return post('/token', { grant_type: 'client_credentials', resource: RESOURCES.rs256, scope: RESOURCE_SCOPE });
    case 'cc_jwt_es256':
      return post('/token', { grant_type: 'client_credentials', resource: RESOURCES.es256, scope: RESOURCE_SCOPE });
    case 'introspection':
      return post('/token/introspection', { token: target.liveToken });
    case 'refresh_token':
      return post('/token', { grant_type: 'refresh_token', refresh_token: target.refreshToken }, target.rpAuthorization);
    case 'userinfo':
      return { method: 'GET', path: '/me', headers: { authorization: `Bearer ${target.accessToken}` } };
  }
}

/** The status and the JSON body (or the start of a body that is not JSON). */
async function answerOf(response: Response): Promise<{ status: number; json: Record<string, unknown> }> {
  const text = await response.text();
  try {
    return { status: response.status, json: JSON.parse(text) as Record<string, unknown> };
  } catch {
    return { status: response.status, json: { raw: text.slice(0, 200) } };
  }
}

async function send(target: Target, request: ScenarioRequest): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(new URL(request.path, target.ready.url), request);
  return answerOf(response);
}

/** What each scenario must answer (checked once before and once after the runs). */
async function checkScenario(target: Target, scenario: HttpScenario): Promise<string | undefined> {
  const { status, json } = await send(target, scenarioRequest(scenario, target));
  const fail = (what: string): string => `${target.name}: ${scenario} ${what}: ${status} ${JSON.stringify(json).slice(0, 300)}`;
  if (status !== 200) return fail('did not answer 200');
  switch (scenario) {
    case 'discovery':
      return json.issuer === target.ready.url ? undefined : fail('has the wrong issuer');
    case 'jwks': {
      const algs = ((json.keys ?? []) as { alg?: string }[]).map((key) => key.alg);
      return algs.includes('RS256') && algs.includes('ES256') ? undefined : fail('lacks an RS256 or an ES256 key');
    }
    case 'cc_jwt_rs256':
    case 'cc_jwt_es256': {
      const token = typeof json.access_token === 'string' ? json.access_token : '';
      const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString() || '{}') as { alg?: string; typ?: string };
      const alg = scenario === 'cc_jwt_rs256' ? 'RS256' : 'ES256';
      return header.alg === alg && header.typ === 'at+jwt' ? undefined : fail(`is not an ${alg} at+jwt`);
    }
    case 'refresh_token':
      return typeof json.access_token === 'string' && typeof json.id_token === 'string'
        ? undefined
        : fail('has no access_token and id_token');
    case 'userinfo':
      return typeof json.sub === 'string' ? undefined : fail('has no sub');
    default:
      return undefined;
  }
}

async function post(target: Target, pathname: string, body: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(new URL(pathname, target.ready.url), {
    method: 'POST',
    headers: { authorization: target.authorization, 'content-type': FORM },
    body,
  });
  return answerOf(response);
}

/** Checks both endpoints answer as expected and takes the token the introspection scenario uses. */
async function sanityCheck(target: Target, when: 'before' | 'after'): Promise<string[]> {
  const problems: string[] = [];
  const issued = await post(target, '/token', 'grant_type=client_credentials');
  const token = issued.json.access_token;
  if (issued.status !== 200 || typeof token !== 'string' || issued.json.token_type !== 'Bearer') {
    problems.push(`${target.name}: client_credentials ${when} the runs answered ${issued.status} ${JSON.stringify(issued.json)}`);
    return problems;
  }
  if (issued.json.expires_in !== 600) {
    problems.push(`${target.name}: expires_in is ${String(issued.json.expires_in)}, expected 600`);
  }
  if (when === 'before') target.liveToken = token;
  const introspected = await post(target, '/token/introspection', new URLSearchParams({ token: target.liveToken }).toString());
  if (introspected.status !== 200 || introspected.json.active !== true || introspected.json.client_id !== target.ready.clientId) {
    problems.push(
      `${target.name}: introspection of the live token ${when} the runs answered ${introspected.status} ${JSON.stringify(introspected.json)}`,
    );
  }
  return problems;
}

function load(target: Target, scenario: HttpScenario, durationS: number): Promise<autocannon.Result> {
  const request = scenarioRequest(scenario, target);
  return autocannon({
    url: new URL(request.path, target.ready.url).toString(),
    method: request.method,
    headers: request.headers,
    ...(request.body === undefined ? {} : { body: request.body }),
    connections: CONNECTIONS,
    duration: durationS,
  });
}

/**
 * One complete login of a person through the DingTalk emulator, as a browser without JavaScript
 * does it: /auth → /interaction/:uid (login page) → /interaction/:uid/dingtalk → the emulator's
 * picker → pick → /dingtalk/callback → … → consent (only the first time: it is remembered) → the
 * relying party's redirect URI with a code → token exchange (PKCE, client_secret_basic).
 */
async function login(target: Target, emulatorUrl: string, unionId: string): Promise<Record<string, unknown>> {
  const issuer = target.ready.url;
  const origins = [issuer, emulatorUrl];
  const browser = new Browser();
  const verifier = randomBytes(32).toString('base64url');
  const authorization = new URL('/auth', issuer);
  authorization.search = new URLSearchParams({
    client_id: target.ready.rp.clientId,
    redirect_uri: RP_REDIRECT_URI,
    response_type: 'code',
    scope: 'openid profile email',
    state: randomBytes(16).toString('base64url'),
    nonce: randomBytes(16).toString('base64url'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  const loginPage = await browser.follow(authorization.toString(), origins);
  const href = /href="(\/interaction\/[^"]+\/dingtalk)"/.exec(loginPage.text)?.[1];
  if (loginPage.status !== 200 || !href) throw new Error(`login: expected the login page, got ${loginPage.status} at ${loginPage.url}`);
  const picker = await browser.follow(`${issuer}${href}`, origins);
  const form = formOf(picker.text);
  let page = await browser.follow(new URL(form.action, picker.url).toString(), origins, { form: { ...form.fields, unionId } });
  if (page.status === 200 && page.text.includes('/consent"')) {
    const consent = formOf(page.text, '/consent');
    page = await browser.follow(new URL(consent.action, issuer).toString(), origins, { form: { ...consent.fields, decision: 'approve' } });
  }
  const location = page.headers.get('location') ?? '';
  const code = location.startsWith(RP_REDIRECT_URI) ? new URL(location).searchParams.get('code') : null;
  if (!code)
    throw new Error(`login: expected a redirect to the app with a code, got ${page.status} at ${page.url}: ${page.text.slice(0, 200)}`);
  const response = await fetch(new URL('/token', issuer), {
    method: 'POST',
    headers: { authorization: target.rpAuthorization, 'content-type': FORM },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: RP_REDIRECT_URI, code_verifier: verifier }),
  });
  const tokens = (await response.json()) as Record<string, unknown>;
  if (response.status !== 200 || typeof tokens.access_token !== 'string' || typeof tokens.refresh_token !== 'string') {
    throw new Error(`login: the code exchange answered ${response.status} ${JSON.stringify(tokens).slice(0, 200)}`);
  }
  return tokens;
}

/** Complete logins with LOGIN_CONCURRENCY in flight, for durationS; per-login latencies. */
async function loadLogins(
  target: Target,
  emulatorUrl: string,
  durationS: number,
): Promise<{ latencies: number[]; errors: string[]; seconds: number }> {
  const latencies: number[] = [];
  const errors: string[] = [];
  const started = performance.now();
  const deadline = started + durationS * 1000;
  let next = 0;
  await Promise.all(
    Array.from({ length: LOGIN_CONCURRENCY }, async () => {
      while (performance.now() < deadline) {
        const user = LOGIN_USERS[next++ % LOGIN_USERS.length]!;
        const begin = performance.now();
        try {
          await login(target, emulatorUrl, user);
          latencies.push(performance.now() - begin);
        } catch (error) {
          errors.push((error as Error).message);
        }
      }
    }),
  );
  return { latencies, errors, seconds: (performance.now() - started) / 1000 };
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function measureLogins(target: Target, emulatorUrl: string, round: number): Promise<RunResult> {
  await loadLogins(target, emulatorUrl, WARMUP_S);
  await sleep(200);
  const cpuBefore = cpuMs(target.ready.pid);
  const redisCpuBefore = cpuMs(target.redis.pid);
  const redisBefore = await redisStats(target.redis.client);
  const wallBefore = performance.now();
  const { latencies, errors, seconds } = await loadLogins(target, emulatorUrl, DURATION_S);
  const cpuAfter = cpuMs(target.ready.pid);
  const redisCpuAfter = cpuMs(target.redis.pid);
  const wallMs = performance.now() - wallBefore;
  const redisAfter = await redisStats(target.redis.client);
  const logins = latencies.length;
  const nodeCpuMs = cpuAfter - cpuBefore;
  const redisCpuMs = redisCpuAfter - redisCpuBefore;
  const serverCpuMs = nodeCpuMs + redisCpuMs;
  if (errors.length > 0) log(`  login errors (first): ${errors[0]}`);
  return {
    scenario: 'login',
    server: target.name,
    round,
    requests: logins,
    durationS: seconds,
    reqPerSec: logins / seconds,
    latencyP50Ms: percentile(latencies, 50),
    latencyP99Ms: percentile(latencies, 99),
    latencyMeanMs: latencies.reduce((sum, value) => sum + value, 0) / Math.max(1, logins),
    non2xx: 0,
    errors: errors.length,
    timeouts: 0,
    serverCpuMs,
    serverCpuMsPerReq: logins > 0 ? serverCpuMs / logins : NaN,
    nodeCpuMsPerReq: logins > 0 ? nodeCpuMs / logins : NaN,
    serverCpuPercent: (100 * nodeCpuMs) / wallMs,
    redisCpuMsPerReq: logins > 0 ? redisCpuMs / logins : NaN,
    bytesPerResponse: NaN,
    redisCommandsPerReq: logins > 0 ? (redisAfter.commands - redisBefore.commands - 1) / logins : NaN,
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function measure(target: Target, scenario: HttpScenario, round: number): Promise<RunResult> {
  await load(target, scenario, WARMUP_S);
  await sleep(200); // let the last warm-up responses drain before the counters are read
  const cpuBefore = cpuMs(target.ready.pid);
  const redisCpuBefore = cpuMs(target.redis.pid);
  const redisBefore = await redisStats(target.redis.client);
  const wallBefore = performance.now();
  const result = await load(target, scenario, DURATION_S);
  const cpuAfter = cpuMs(target.ready.pid);
  const redisCpuAfter = cpuMs(target.redis.pid);
  const wallMs = performance.now() - wallBefore;
  const redisAfter = await redisStats(target.redis.client);
  const requests = result.requests.total;
  const nodeCpuMs = cpuAfter - cpuBefore;
  const redisCpuMs = redisCpuAfter - redisCpuBefore;
  const serverCpuMs = nodeCpuMs + redisCpuMs;
  return {
    scenario,
    server: target.name,
    round,
    requests,
    durationS: result.duration,
    reqPerSec: requests / result.duration,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    latencyMeanMs: result.latency.average,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    serverCpuMs,
    serverCpuMsPerReq: requests > 0 ? serverCpuMs / requests : NaN,
    nodeCpuMsPerReq: requests > 0 ? nodeCpuMs / requests : NaN,
    serverCpuPercent: (100 * nodeCpuMs) / wallMs,
    redisCpuMsPerReq: requests > 0 ? redisCpuMs / requests : NaN,
    bytesPerResponse: requests > 0 ? result.throughput.total / requests : NaN,
    // Minus the INFO command that took the first sample.
    redisCommandsPerReq: requests > 0 ? (redisAfter.commands - redisBefore.commands - 1) / requests : NaN,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function summarize(runs: RunResult[], scenario: ScenarioName, server: ServerName): Summary {
  const mine = runs.filter((run) => run.scenario === scenario && run.server === server);
  const of = (pick: (run: RunResult) => number): number => median(mine.map(pick));
  return {
    scenario,
    server,
    rounds: mine.length,
    reqPerSec: of((run) => run.reqPerSec),
    latencyMeanMs: of((run) => run.latencyMeanMs),
    latencyP50Ms: of((run) => run.latencyP50Ms),
    latencyP99Ms: of((run) => run.latencyP99Ms),
    serverCpuMsPerReq: of((run) => run.serverCpuMsPerReq),
    nodeCpuMsPerReq: of((run) => run.nodeCpuMsPerReq),
    serverCpuPercent: of((run) => run.serverCpuPercent),
    redisCpuMsPerReq: of((run) => run.redisCpuMsPerReq),
    redisCommandsPerReq: of((run) => run.redisCommandsPerReq),
    bytesPerResponse: of((run) => run.bytesPerResponse),
    non2xx: mine.reduce((sum, run) => sum + run.non2xx, 0),
    errors: mine.reduce((sum, run) => sum + run.errors + run.timeouts, 0),
    reqPerSecPerRound: mine.map((run) => Math.round(run.reqPerSec)),
  };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const line = (row: string[]): string =>
    `| ${row.map((cell, column) => (column < 2 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join(' | ')} |`;
  const separator = `|${widths.map((width, column) => (column < 2 ? `${'-'.repeat(width + 1)}-` : `${'-'.repeat(width + 1)}:`)).join('|')}|`;
  return [line(rows[0]!), separator, ...rows.slice(1).map(line)].join('\n');
}

function machineInfo(): Record<string, unknown> {
  let cpuModel = os.cpus()[0]?.model ?? 'unknown';
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (match?.[1]) cpuModel = match[1].trim();
  } catch {
    // not Linux: keep os.cpus()
  }
  const packageVersion = (name: string): string => {
    try {
      return (JSON.parse(readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      return 'unknown';
    }
  };
  return {
    nproc: os.availableParallelism(),
    cpuModel,
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    totalMemMiB: Math.round(os.totalmem() / 2 ** 20),
    oidcProvider: packageVersion('oidc-provider'),
    autocannon: packageVersion('autocannon'),
    clockTicksPerSecond: CLK_TCK,
  };
}

async function main(): Promise<number> {
  const startedAt = new Date();
  const loadBefore = os.loadavg();
  const pin = canPin();
  const machine = machineInfo();
  log(`bench: ${String(machine.nproc)} CPU(s), ${String(machine.cpuModel)}, Node ${process.version}`);
  log(
    pin
      ? 'bench: server processes pinned to CPU 0 with `taskset -c 0`; load generator (this process) and Redis unpinned'
      : 'bench: taskset not available (or BENCH_PIN=0): server processes are NOT pinned',
  );
  log(
    `bench: ${ROUNDS} rounds, ${WARMUP_S} s warm-up + ${DURATION_S} s measured, ${CONNECTIONS} connections (logins: ${LOGIN_CONCURRENCY} in flight)`,
  );
  const httpScenarios = HTTP_SCENARIOS.filter((name) => !ONLY || ONLY.includes(name));
  const withLogins = !ONLY || ONLY.includes('login');
  const needsOursTest = withLogins || httpScenarios.some((name) => LOGIN_SCENARIOS.has(name));
  const needsOurs = httpScenarios.some((name) => !LOGIN_SCENARIOS.has(name));

  await ensureDatabase(DATABASE_URL);
  // Ours (production) gets a database of its own, re-created: its secrets are new on every run.
  const productionDatabaseUrl = (() => {
    const url = new URL(DATABASE_URL);
    url.pathname = `${url.pathname}_production`;
    return url.toString();
  })();
  // The built server and the built baselines: production runs JavaScript, not tsx.
  log('bench: building (tsc -p tsconfig.bench.json)');
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.bench.json'], {
    cwd: ROOT,
    stdio: 'inherit',
  });

  // The DingTalk emulator runs here (the parent), on its own port, like the real DingTalk would:
  // its work is not counted in our server's CPU time.
  const oursPort = await freePort();
  const corpId = defaultSeed().corp.corpId;
  const emulatorSettings = { clientId: 'bench-dingtalk-app', clientSecret: randomBytes(24).toString('base64url'), corpId };
  // Its per-app QPS limit (DingTalk's, 20 calls/s per API by default) is off: it would cap logins at
  // about 20/s whatever our server costs (see bench/README.md).
  const emulator = createEmulator({
    ...emulatorSettings,
    redirectUris: [`http://127.0.0.1:${oursPort}/dingtalk/callback`],
    qpsLimit: false,
  });
  const dingtalk: RunningEmulator = await emulator.listen(0, '127.0.0.1');

  const targets: Target[] = [];
  const redisServers: OwnRedis[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(targets.map((target) => stopChild(target).catch(() => undefined)));
    await Promise.all(redisServers.map((redis) => stopRedisServer(redis).catch(() => undefined)));
    await dingtalk.close().catch(() => undefined);
  };
  process.once('SIGINT', () => {
    void stopAll().finally(() => process.exit(130));
  });

  try {
    const ownRedis = async (): Promise<OwnRedis> => {
      const redis = await startRedisServer();
      redisServers.push(redis);
      return redis;
    };
    const bareScript = (): string[] => [path.join(ROOT, 'dist', 'bench', 'server-bare.js')];
    const starts: Promise<Target>[] = [];
    if (needsOurs) starts.push(ownRedis().then((redis) => startProduction(productionDatabaseUrl, redis, pin)));
    if (needsOursTest) {
      starts.push(
        ownRedis().then((redis) =>
          startChild(
            'ours-test',
            ['--import', import.meta.resolve('tsx'), path.join(ROOT, 'bench', 'server-ours.ts')],
            { redisUrl: redis.url, databaseUrl: DATABASE_URL, port: oursPort, dingtalk: { url: dingtalk.url, ...emulatorSettings } },
            redis,
            pin,
          ),
        ),
      );
    }
    if (httpScenarios.length > 0) {
      starts.push(ownRedis().then((redis) => startChild('bare', bareScript(), { redisUrl: redis.url, adapter: 'simple' }, redis, pin)));
      starts.push(
        ownRedis().then((redis) => startChild('bare-our-adapter', bareScript(), { redisUrl: redis.url, adapter: 'ours' }, redis, pin)),
      );
    }
    // Every outcome is collected (a failure must not go unhandled while another start is awaited).
    const started = await Promise.allSettled(starts);
    for (const outcome of started) if (outcome.status === 'fulfilled') targets.push(outcome.value);
    const failures = started.filter((outcome) => outcome.status === 'rejected');
    if (failures.length > 0) {
      for (const failure of failures) loud(`SERVER FAILED TO START: ${String(failure.reason)}`);
      return 1;
    }
    const byName = (name: ServerName): Target | undefined => targets.find((target) => target.name === name);
    const oursTest = byName('ours-test');
    /** The servers a scenario runs on, ours first: ours (production) or, for what needs a login, ours-test. */
    const targetsOf = (scenario: ScenarioName): Target[] =>
      scenario === 'login'
        ? [oursTest!]
        : [byName(LOGIN_SCENARIOS.has(scenario) ? 'ours-test' : 'ours')!, byName('bare')!, byName('bare-our-adapter')!];
    const redisVersion = /^redis_version:(\S+)/m.exec(await targets[0]!.redis.client.info('server'))?.[1] ?? 'unknown';
    for (const target of targets) {
      log(
        `bench: ${target.name} ready at ${target.ready.url} (pid ${target.ready.pid}, redis-server pid ${target.redis.pid}, client ${target.ready.clientId})`,
      );
      // A server that dies mid-run must not go unnoticed.
      target.child.once('exit', (code, signal) => {
        if (!target.stopping) loud(`${target.name} server exited unexpectedly (code ${code}, signal ${signal})`);
      });
    }

    const problems: string[] = [];
    for (const target of targets) problems.push(...(await sanityCheck(target, 'before')));
    // Ours-test: the relying party's tokens come from a real login (which also gives the first consent).
    if (oursTest) {
      try {
        const tokens = await login(oursTest, dingtalk.url, LOGIN_USERS[0]!);
        oursTest.refreshToken = String(tokens.refresh_token);
        oursTest.accessToken = String(tokens.access_token);
      } catch (error) {
        problems.push(`ours-test: ${(error as Error).message}`);
      }
    }
    const checkAll = async (): Promise<string[]> => {
      const found: string[] = [];
      for (const scenario of httpScenarios) {
        for (const target of targetsOf(scenario)) {
          const problem = await checkScenario(target, scenario);
          if (problem) found.push(problem);
        }
      }
      return found;
    };
    problems.push(...(await checkAll()));
    if (problems.length > 0) {
      for (const problem of problems) loud(`SANITY CHECK FAILED: ${problem}`);
      return 1;
    }
    await sleep(1000);
    for (const target of targets) target.rss.idleAfterStart = rssMiB(target.ready.pid);

    const scenarios: ScenarioName[] = [...httpScenarios, ...(withLogins ? (['login'] as const) : [])];
    const runs: RunResult[] = [];
    for (const scenario of scenarios) {
      for (let round = 1; round <= ROUNDS; round++) {
        for (const target of targetsOf(scenario)) {
          const run = scenario === 'login' ? await measureLogins(target, dingtalk.url, round) : await measure(target, scenario, round);
          runs.push(run);
          log(
            `  ${scenario.padEnd(18)} round ${round}/${ROUNDS} ${target.name.padEnd(16)} ` +
              `${run.reqPerSec.toFixed(0).padStart(6)} req/s  p50 ${run.latencyP50Ms} ms  p99 ${run.latencyP99Ms} ms  ` +
              `cpu ${run.serverCpuMsPerReq.toFixed(3)} ms/req (node ${run.nodeCpuMsPerReq.toFixed(3)}, ${run.serverCpuPercent.toFixed(0)} %)  redis ${run.redisCommandsPerReq.toFixed(1)} cmd/req` +
              (run.non2xx + run.errors + run.timeouts > 0 ? `  non2xx ${run.non2xx} errors ${run.errors} timeouts ${run.timeouts}` : ''),
          );
          if (run.non2xx + run.errors + run.timeouts > 0) {
            loud(
              `${scenario} on ${target.name}, round ${round}: ${run.non2xx} non-2xx responses, ${run.errors} errors, ${run.timeouts} timeouts (must be 0)`,
            );
          }
        }
      }
    }
    for (const target of targets) problems.push(...(await sanityCheck(target, 'after')));
    for (const problem of await checkAll()) problems.push(`after the runs: ${problem}`);
    for (const problem of problems) loud(`SANITY CHECK FAILED: ${problem}`);
    await sleep(2000);
    for (const target of targets) {
      target.rss.idleAfterRuns = rssMiB(target.ready.pid);
      target.rss.peak = rssMiB(target.ready.pid, 'VmHWM');
    }

    const summaries = scenarios.flatMap((scenario) => targetsOf(scenario).map((target) => summarize(runs, scenario, target.name)));
    const rows = [
      [
        'scenario',
        'server',
        'req/s',
        'mean ms',
        'p50 ms',
        'p99 ms',
        'CPU ms/req',
        'node CPU ms/req',
        'redis CPU ms/req',
        'node CPU %',
        'redis cmd/req',
        'bytes/resp',
        'non-2xx+err',
      ],
      ...summaries.map((s) => [
        s.scenario,
        s.server,
        s.reqPerSec.toFixed(0),
        s.latencyMeanMs.toFixed(2),
        s.latencyP50Ms.toFixed(0),
        s.latencyP99Ms.toFixed(0),
        s.serverCpuMsPerReq.toFixed(3),
        s.nodeCpuMsPerReq.toFixed(3),
        s.redisCpuMsPerReq.toFixed(3),
        s.serverCpuPercent.toFixed(0),
        s.redisCommandsPerReq.toFixed(1),
        Number.isNaN(s.bytesPerResponse) ? '–' : s.bytesPerResponse.toFixed(0),
        String(s.non2xx + s.errors),
      ]),
    ];
    // Ratios are paired: the servers of one round ran back to back, so a slow patch of the machine
    // hits them all; the median of the per-round ratios is far steadier than the ratio of two
    // medians, which may come from different rounds.
    const ratios = scenarios
      .filter((scenario) => scenario !== 'login')
      .flatMap((scenario) => {
        const [ours] = targetsOf(scenario);
        const pairsOf = ([a, b]: [ServerName, ServerName]) =>
          [...new Set(runs.filter((run) => run.scenario === scenario).map((run) => run.round))].flatMap((round) => {
            const x = runs.find((run) => run.scenario === scenario && run.server === a && run.round === round);
            const y = runs.find((run) => run.scenario === scenario && run.server === b && run.round === round);
            return x && y ? [{ a: x, b: y }] : [];
          });
        const comparisons: [ServerName, ServerName][] = [
          [ours!.name, 'bare'],
          [ours!.name, 'bare-our-adapter'],
          ['bare-our-adapter', 'bare'],
        ];
        return comparisons.map(([a, b]) => {
          const pairs = pairsOf([a, b]);
          const paired = (pick: (run: RunResult) => number): number => median(pairs.map((pair) => pick(pair.a) / pick(pair.b)));
          return {
            scenario,
            ratio: `${a}/${b}`,
            reqPerSec: paired((run) => run.reqPerSec),
            serverCpuMsPerReq: paired((run) => run.serverCpuMsPerReq),
            nodeCpuMsPerReq: paired((run) => run.nodeCpuMsPerReq),
            latencyP50Ms: paired((run) => run.latencyP50Ms),
            serverCpuMsPerReqPerRound: pairs.map((pair) => Math.round((pair.a.serverCpuMsPerReq / pair.b.serverCpuMsPerReq) * 100) / 100),
          };
        });
      });

    log('');
    log(
      `medians of ${ROUNDS} rounds (req/s per round: ${summaries.map((s) => `${s.scenario}/${s.server} ${s.reqPerSecPerRound.join(', ')}`).join('; ')})`,
    );
    log('');
    log(table(rows));
    log('');
    log(
      table([
        ['scenario', 'ratio', 'req/s', 'CPU/req (node+redis)', 'node CPU/req', 'CPU/req per round'],
        ...ratios.map((r) => [
          r.scenario,
          r.ratio,
          r.reqPerSec.toFixed(2),
          r.serverCpuMsPerReq.toFixed(2),
          r.nodeCpuMsPerReq.toFixed(2),
          r.serverCpuMsPerReqPerRound.join(' '),
        ]),
      ]),
    );
    log('');
    log(
      table([
        ['server', 'RSS', 'idle after start MiB', 'idle after runs MiB', 'peak (VmHWM) MiB'],
        ...targets.map((t) => [
          t.name,
          'VmRSS',
          (t.rss.idleAfterStart ?? NaN).toFixed(0),
          (t.rss.idleAfterRuns ?? NaN).toFixed(0),
          (t.rss.peak ?? NaN).toFixed(0),
        ]),
      ]),
    );
    log(
      'login: ours-test only (bare oidc-provider has no login); req/s = complete logins per second, latencies per login, CPU and Redis per login.',
    );
    log('');
    log(
      `load average before ${loadBefore.map((v) => v.toFixed(2)).join(' ')}, after ${os
        .loadavg()
        .map((v) => v.toFixed(2))
        .join(' ')}`,
    );
    log(
      'CPU ms/req: utime+stime (/proc/<pid>/stat) of the server process and of its own redis-server over the measured run ÷ responses; ' +
        'node CPU: the server process alone. redis cmd/req: INFO of its own redis-server.',
    );

    const erroneous = summaries.filter((s) => s.non2xx + s.errors > 0);
    const result = {
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      command: 'npm run bench',
      settings: {
        rounds: ROUNDS,
        durationS: DURATION_S,
        warmupS: WARMUP_S,
        connections: CONNECTIONS,
        loginConcurrency: LOGIN_CONCURRENCY,
        scenarios,
        pinnedToCpu0: pin,
        redis: 'one redis-server per server (BENCH_REDIS_SERVER)',
      },
      machine: { ...machine, redis: redisVersion },
      // 1/5/15-minute load averages: well above what the benchmark itself adds (≈ 2 on two cores)
      // means something else was running and the figures are noisier.
      loadAverage: { before: loadBefore, after: os.loadavg() },
      servers: Object.fromEntries(
        targets.map((target) => [
          target.name,
          {
            ...target.ready.details,
            url: target.ready.url,
            pid: target.ready.pid,
            redisPid: target.redis.pid,
            rssMiB: target.rss,
            stderr: target.stderr,
          },
        ]),
      ),
      summaries,
      ratios,
      runs,
      problems,
    };
    mkdirSync(RESULTS_DIR, { recursive: true });
    const file = path.join(RESULTS_DIR, `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    log(`results: ${path.relative(ROOT, file)}`);

    const warnings = new Set(targets.flatMap((target) => target.stderr.map((line) => `[${target.name}] ${line}`)));
    if (warnings.size > 0) {
      log('');
      log('server output (stderr/stdout):');
      for (const line of warnings) log(`  ${line}`);
    }

    if (erroneous.length > 0 || problems.length > 0) {
      loud(
        `ERRORS: ${erroneous.map((s) => `${s.scenario}/${s.server}: ${s.non2xx} non-2xx, ${s.errors} errors`).join('; ') || problems.join('; ')} — figures above are not valid`,
      );
      return 1;
    }
    return 0;
  } finally {
    await stopAll();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    loud(`bench failed: ${(error as Error).stack ?? String(error)}`);
    process.exit(1);
  },
);
