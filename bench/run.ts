/**
 * `npm run bench`: throughput, latency and CPU cost per request of discovery, JWKS,
 * client_credentials (opaque, JWT RS256, JWT ES256), introspection, the refresh-token grant and
 * userinfo, measured on
 *   A "ours": the product, started with startServer (bench/server-ours.ts), and
 *   B "bare": a bare oidc-provider 9 with the same Redis adapter, key type and TTLs
 *      (bench/server-bare.ts),
 * each in a process of its own (pinned to CPU 0 with taskset when available), loaded from this
 * process with autocannon, A and B in alternation. Reports ratios ours/bare measured in the same
 * run; never asserts on speed. Also complete DingTalk logins per second through the emulator (ours
 * only: bare oidc-provider has no login), and the idle RSS of each server. See bench/README.md.
 *
 * Settings (environment, all optional): BENCH_DATABASE_URL, BENCH_REDIS_URL (a server; databases
 * 12 and 11 of it are flushed and used), BENCH_ROUNDS (3), BENCH_DURATION (4 s),
 * BENCH_WARMUP (1 s), BENCH_CONNECTIONS (16), BENCH_PIN (1; 0 = no taskset), BENCH_CPU_PROF (1 =
 * write V8 CPU profiles of both servers to bench/results/profiles/; slows them down, so the
 * figures of such a run are not comparable with normal runs).
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import pg from 'pg';
import { createEmulator, defaultSeed, type RunningEmulator } from '../src/emulator/index.js';
import { createRedis, parseRedisUrl, type RedisClient } from '../src/store/redis.js';
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
const ROUNDS = positiveInt(env.BENCH_ROUNDS, 3);
const DURATION_S = positiveInt(env.BENCH_DURATION, 4);
const WARMUP_S = positiveInt(env.BENCH_WARMUP, 1);
const CONNECTIONS = positiveInt(env.BENCH_CONNECTIONS, 16);
/** Logins in flight at once in the login scenario (each is a chain of ~10 requests). */
const LOGIN_CONCURRENCY = positiveInt(env.BENCH_LOGIN_CONCURRENCY, 8);
/** Only these scenarios (comma list), e.g. BENCH_SCENARIOS=discovery,jwks. */
const ONLY = env.BENCH_SCENARIOS?.split(',').map((name) => name.trim()).filter(Boolean);
const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/dingtalk_oidc_bench';
const DATABASE_URL = env.BENCH_DATABASE_URL?.trim() || DEFAULT_DATABASE_URL;
const REDIS_BASE_URL = env.BENCH_REDIS_URL?.trim() || 'redis://127.0.0.1:6379';
const OURS_REDIS_DB = 12;
const BARE_REDIS_DB = 11;
const START_TIMEOUT_MS = 90_000;

type ServerName = 'ours' | 'bare';
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

interface Target {
  name: ServerName;
  child: ChildProcess;
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
  /** VmRSS in MiB: after start (idle, before any load) and after the runs (idle again). */
  rss: { idleAfterStart?: number; idleAfterRuns?: number };
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
  serverCpuMsPerReq: number;
  /** Server CPU time ÷ wall time of the run: near 100 % means the server was CPU-bound. */
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

/** The same Redis server, another database. Cluster has only database 0, so it is refused. */
function redisDatabaseUrl(url: string, db: number): string {
  const parsed = parseRedisUrl(url);
  if (parsed.kind === 'cluster') throw new Error('BENCH_REDIS_URL must be a single or Sentinel Redis, not a Cluster');
  const authority = /^[^:]+:\/\/[^/?#]*/.exec(url)?.[0] ?? url;
  return parsed.kind === 'single' ? `${authority}/${db}` : `${authority}/${encodeURIComponent(parsed.name)}/${db}`;
}

/** Create the default benchmark database when it is missing (BENCH_DATABASE_URL is used as is). */
async function ensureDatabase(): Promise<void> {
  if (env.BENCH_DATABASE_URL?.trim()) return;
  const name = new URL(DEFAULT_DATABASE_URL).pathname.slice(1);
  const client = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
  try {
    await client.connect();
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) {
      await client.query(`CREATE DATABASE "${name}"`);
      log(`created database ${name}`);
    }
  } catch (error) {
    throw new Error(`cannot prepare PostgreSQL at 127.0.0.1:5432 (set BENCH_DATABASE_URL): ${(error as Error).message}`, {
      cause: error,
    });
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function flushRedis(url: string): Promise<void> {
  const client = createRedis(url, { lazyConnect: true });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.flushdb();
  } finally {
    client.disconnect();
  }
}

/** Is `taskset -c 0` usable here (installed, CPU 0 in our affinity mask)? */
function canPin(): boolean {
  if (env.BENCH_PIN === '0') return false;
  const probe = spawnSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
  return probe.status === 0;
}

function startChild(name: ServerName, file: string, settings: ChildSettings, pin: boolean): Promise<Target> {
  const tsx = import.meta.resolve('tsx');
  const profile =
    env.BENCH_CPU_PROF === '1'
      ? // One folder per server: tsx's module-hooks thread writes a profile of its own (the small one).
        ['--cpu-prof', `--cpu-prof-dir=${path.join(RESULTS_DIR, 'profiles', `${name}-${Date.now()}`)}`]
      : [];
  // BENCH_OURS_NODE_ARGS: node flags for ours only (e.g. --max-semi-space-size=2), to measure
  // what a runtime setting costs against the same bare server.
  const extra = name === 'ours' ? (env.BENCH_OURS_NODE_ARGS ?? '').split(/\s+/).filter(Boolean) : [];
  const nodeArgs = [...profile, ...extra, '--import', tsx, path.join(ROOT, 'bench', file)];
  // taskset execs node, so the child's pid is the server's pid.
  const [command, args] = pin
    ? ['taskset', ['-c', '0', process.execPath, ...nodeArgs]]
    : [process.execPath, nodeArgs];
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, [BENCH_CHILD_ENV]: JSON.stringify(settings) },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const stderr: string[] = [];
  const collect = (stream: NodeJS.ReadableStream | null, label: string): void => {
    let rest = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) stderr.push(`${label}${line}`);
    });
  };
  collect(child.stdout, 'stdout: ');
  collect(child.stderr, '');

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

function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/** Resident set size of a process, in MiB (/proc/<pid>/status VmRSS). */
function rssMiB(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
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
  cpuMs: number;
  commands: number;
}

async function redisStats(client: RedisClient): Promise<RedisStats> {
  const text = await client.info();
  const value = (key: string): number => Number(new RegExp(`^${key}:([0-9.]+)`, 'm').exec(text)?.[1] ?? NaN);
  return {
    cpuMs: (value('used_cpu_sys') + value('used_cpu_user')) * 1000,
    commands: value('total_commands_processed'),
  };
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
      const token = String(json.access_token ?? '');
      const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString() || '{}') as { alg?: string; typ?: string };
      const alg = scenario === 'cc_jwt_rs256' ? 'RS256' : 'ES256';
      return header.alg === alg && header.typ === 'at+jwt' ? undefined : fail(`is not an ${alg} at+jwt`);
    }
    case 'refresh_token':
      return typeof json.access_token === 'string' && typeof json.id_token === 'string' ? undefined : fail('has no access_token and id_token');
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
  if (!code) throw new Error(`login: expected a redirect to the app with a code, got ${page.status} at ${page.url}: ${page.text.slice(0, 200)}`);
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
async function loadLogins(target: Target, emulatorUrl: string, durationS: number): Promise<{ latencies: number[]; errors: string[]; seconds: number }> {
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

async function measureLogins(target: Target, emulatorUrl: string, round: number, redis: RedisClient): Promise<RunResult> {
  await loadLogins(target, emulatorUrl, WARMUP_S);
  await sleep(200);
  const cpuBefore = cpuMs(target.ready.pid);
  const redisBefore = await redisStats(redis);
  const wallBefore = performance.now();
  const { latencies, errors, seconds } = await loadLogins(target, emulatorUrl, DURATION_S);
  const cpuAfter = cpuMs(target.ready.pid);
  const wallMs = performance.now() - wallBefore;
  const redisAfter = await redisStats(redis);
  const logins = latencies.length;
  const serverCpuMs = cpuAfter - cpuBefore;
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
    serverCpuPercent: (100 * serverCpuMs) / wallMs,
    redisCpuMsPerReq: logins > 0 ? (redisAfter.cpuMs - redisBefore.cpuMs) / logins : NaN,
    bytesPerResponse: NaN,
    redisCommandsPerReq: logins > 0 ? (redisAfter.commands - redisBefore.commands - 1) / logins : NaN,
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function measure(target: Target, scenario: HttpScenario, round: number, redis: RedisClient): Promise<RunResult> {
  await load(target, scenario, WARMUP_S);
  await sleep(200); // let the last warm-up responses drain before the counters are read
  const cpuBefore = cpuMs(target.ready.pid);
  const redisBefore = await redisStats(redis);
  const wallBefore = performance.now();
  const result = await load(target, scenario, DURATION_S);
  const cpuAfter = cpuMs(target.ready.pid);
  const wallMs = performance.now() - wallBefore;
  const redisAfter = await redisStats(redis);
  const requests = result.requests.total;
  const serverCpuMs = cpuAfter - cpuBefore;
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
    serverCpuPercent: (100 * serverCpuMs) / wallMs,
    redisCpuMsPerReq: requests > 0 ? (redisAfter.cpuMs - redisBefore.cpuMs) / requests : NaN,
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
      return (JSON.parse(readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string })
        .version;
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

  const oursRedis = redisDatabaseUrl(REDIS_BASE_URL, OURS_REDIS_DB);
  const bareRedis = redisDatabaseUrl(REDIS_BASE_URL, BARE_REDIS_DB);
  await ensureDatabase();
  await Promise.all([flushRedis(oursRedis), flushRedis(bareRedis)]);

  const monitor = createRedis(REDIS_BASE_URL, { lazyConnect: true });
  monitor.on('error', () => {});
  await monitor.connect();
  const redisVersion = /^redis_version:(\S+)/m.exec(await monitor.info('server'))?.[1] ?? 'unknown';

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
  const stopAll = async (): Promise<void> => {
    await Promise.all(targets.map((target) => stopChild(target).catch(() => undefined)));
    await dingtalk.close().catch(() => undefined);
  };
  process.once('SIGINT', () => {
    void stopAll().finally(() => process.exit(130));
  });

  try {
    const started = await Promise.allSettled([
      startChild(
        'ours',
        'server-ours.ts',
        { redisUrl: oursRedis, databaseUrl: DATABASE_URL, port: oursPort, dingtalk: { url: dingtalk.url, ...emulatorSettings } },
        pin,
      ),
      startChild('bare', 'server-bare.ts', { redisUrl: bareRedis }, pin),
    ]);
    for (const outcome of started) if (outcome.status === 'fulfilled') targets.push(outcome.value);
    const failures = started.filter((outcome) => outcome.status === 'rejected');
    if (failures.length > 0) {
      for (const failure of failures) loud(`SERVER FAILED TO START: ${String((failure as PromiseRejectedResult).reason)}`);
      return 1;
    }
    const [ours, bare] = targets as [Target, Target];
    for (const target of targets) {
      log(`bench: ${target.name} ready at ${target.ready.url} (pid ${target.ready.pid}, client ${target.ready.clientId})`);
      // A server that dies mid-run must not go unnoticed.
      target.child.once('exit', (code, signal) => {
        if (!target.stopping) loud(`${target.name} server exited unexpectedly (code ${code}, signal ${signal})`);
      });
    }

    const problems: string[] = [];
    for (const target of targets) problems.push(...(await sanityCheck(target, 'before')));
    // Ours: the relying party's tokens come from a real login (which also gives the first consent).
    try {
      const tokens = await login(ours, dingtalk.url, LOGIN_USERS[0]!);
      ours.refreshToken = String(tokens.refresh_token);
      ours.accessToken = String(tokens.access_token);
    } catch (error) {
      problems.push(`ours: ${(error as Error).message}`);
    }
    for (const target of targets) {
      for (const scenario of httpScenarios) {
        const problem = await checkScenario(target, scenario);
        if (problem) problems.push(problem);
      }
    }
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
        for (const target of scenario === 'login' ? [ours] : [ours, bare]) {
          const run =
            scenario === 'login'
              ? await measureLogins(target, dingtalk.url, round, monitor)
              : await measure(target, scenario, round, monitor);
          runs.push(run);
          log(
            `  ${scenario.padEnd(18)} round ${round}/${ROUNDS} ${target.name.padEnd(4)} ` +
              `${run.reqPerSec.toFixed(0).padStart(6)} req/s  p50 ${run.latencyP50Ms} ms  p99 ${run.latencyP99Ms} ms  ` +
              `cpu ${run.serverCpuMsPerReq.toFixed(3)} ms/req (${run.serverCpuPercent.toFixed(0)} %)  redis ${run.redisCommandsPerReq.toFixed(1)} cmd/req` +
              (run.non2xx + run.errors + run.timeouts > 0
                ? `  non2xx ${run.non2xx} errors ${run.errors} timeouts ${run.timeouts}`
                : ''),
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
    for (const target of targets) {
      for (const scenario of httpScenarios) {
        const problem = await checkScenario(target, scenario);
        if (problem) problems.push(`after the runs: ${problem}`);
      }
    }
    for (const problem of problems) loud(`SANITY CHECK FAILED: ${problem}`);
    await sleep(2000);
    for (const target of targets) target.rss.idleAfterRuns = rssMiB(target.ready.pid);

    const summaries = scenarios.flatMap((scenario) =>
      scenario === 'login' ? [summarize(runs, scenario, 'ours')] : [summarize(runs, scenario, 'ours'), summarize(runs, scenario, 'bare')],
    );
    const rows = [
      ['scenario', 'server', 'req/s', 'mean ms', 'p50 ms', 'p99 ms', 'CPU ms/req', 'server CPU %', 'redis cmd/req', 'redis CPU ms/req', 'bytes/resp', 'non-2xx+err'],
      ...summaries.map((s) => [
        s.scenario,
        s.server,
        s.reqPerSec.toFixed(0),
        s.latencyMeanMs.toFixed(2),
        s.latencyP50Ms.toFixed(0),
        s.latencyP99Ms.toFixed(0),
        s.serverCpuMsPerReq.toFixed(3),
        s.serverCpuPercent.toFixed(0),
        s.redisCommandsPerReq.toFixed(1),
        s.redisCpuMsPerReq.toFixed(3),
        Number.isNaN(s.bytesPerResponse) ? '–' : s.bytesPerResponse.toFixed(0),
        String(s.non2xx + s.errors),
      ]),
    ];
    // Ratios are paired: ours and bare of the same round ran back to back (A B), so a slow patch of
    // the machine hits both; the median of the per-round ratios is far steadier than the ratio of
    // two medians, which may come from different rounds.
    const ratios = scenarios.filter((scenario) => scenario !== 'login').map((scenario) => {
      const pairs = [...new Set(runs.filter((run) => run.scenario === scenario).map((run) => run.round))].flatMap((round) => {
        const a = runs.find((run) => run.scenario === scenario && run.server === 'ours' && run.round === round);
        const b = runs.find((run) => run.scenario === scenario && run.server === 'bare' && run.round === round);
        return a && b ? [{ a, b }] : [];
      });
      const paired = (pick: (run: RunResult) => number): number => median(pairs.map(({ a, b }) => pick(a) / pick(b)));
      return {
        scenario,
        reqPerSec: paired((run) => run.reqPerSec),
        serverCpuMsPerReq: paired((run) => run.serverCpuMsPerReq),
        latencyP50Ms: paired((run) => run.latencyP50Ms),
        serverCpuMsPerReqPerRound: pairs.map(({ a, b }) => Math.round((a.serverCpuMsPerReq / b.serverCpuMsPerReq) * 100) / 100),
      };
    });

    log('');
    log(`medians of ${ROUNDS} rounds (req/s per round: ${summaries.map((s) => `${s.scenario}/${s.server} ${s.reqPerSecPerRound.join(', ')}`).join('; ')})`);
    log('');
    log(table(rows));
    log('');
    log(
      table([
        ['scenario', 'ratio', 'req/s ours/bare', 'CPU/req ours/bare', 'CPU/req per round'],
        ...ratios.map((r) => [r.scenario, 'ours/bare', r.reqPerSec.toFixed(2), r.serverCpuMsPerReq.toFixed(2), r.serverCpuMsPerReqPerRound.join(' ')]),
      ]),
    );
    log('');
    log(
      table([
        ['server', 'RSS', 'idle after start MiB', 'idle after runs MiB'],
        ...targets.map((t) => [t.name, 'VmRSS', (t.rss.idleAfterStart ?? NaN).toFixed(0), (t.rss.idleAfterRuns ?? NaN).toFixed(0)]),
      ]),
    );
    log('login: ours only (bare oidc-provider has no login); req/s = complete logins per second, latencies per login, CPU and Redis per login.');
    log('');
    log(`load average before ${loadBefore.map((v) => v.toFixed(2)).join(' ')}, after ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}`);
    log(
      'CPU ms/req: server process utime+stime (/proc/<pid>/stat) over the measured run ÷ responses. ' +
        'redis columns: whole Redis server (INFO), shared by both, only one under load at a time.',
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
        redisDatabases: { ours: OURS_REDIS_DB, bare: BARE_REDIS_DB },
      },
      machine: { ...machine, redis: redisVersion },
      // 1/5/15-minute load averages: well above what the benchmark itself adds (≈ 2 on two cores)
      // means something else was running and the figures are noisier.
      loadAverage: { before: loadBefore, after: os.loadavg() },
      servers: Object.fromEntries(
        targets.map((target) => [
          target.name,
          { ...target.ready.details, url: target.ready.url, rssMiB: target.rss, stderr: target.stderr },
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
    monitor.disconnect();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    loud(`bench failed: ${(error as Error).stack ?? String(error)}`);
    process.exit(1);
  },
);
