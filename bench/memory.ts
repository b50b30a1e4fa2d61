/**
 * Redis memory and storage growth (issue 7, item 3): `npx tsx bench/memory.ts`.
 *
 * Against database 3 of BENCH_REDIS_URL (FLUSHED at start), through the real adapter
 * (`createRedisAdapterFactory(createRedis(url), { clockTolerance: 15 })`, the bench's settings):
 *
 * 1. N "logins" (BENCH_MEMORY_N, default 100 000) spread over N/10 accounts: per login a Session,
 *    a Grant, an AccessToken and a RefreshToken (both indexed under the grant), with payloads shaped
 *    like oidc-provider 9's and our TTLs (session/grant/refresh 14 d, access 1 h). Written in four
 *    phases so that Redis `used_memory` (minus the baseline) and DBSIZE can be attributed to each.
 * 2. A short batch (BENCH_MEMORY_SHORT_N, default 5 000 logins on fresh accounts) with a 2 s TTL,
 *    plus 2 s records attached to live accounts and grants (a session of an account that has a
 *    long-lived one, an access token of a long-lived grant). After ~4 s: every record and every
 *    index entry of the short batch must be gone, and every key left must have a TTL. Any key
 *    without a TTL, or a short-batch key still readable, is a failure (exit status 1).
 *
 * Writes bench/results/memory-<timestamp>.json.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { AdapterPayload } from 'oidc-provider';

import { createRedis, parseRedisUrl, type RedisClient } from '../src/store/redis.js';
import { createRedisAdapterFactory } from '../src/store/redis-adapter.js';

const env = process.env;
const BASE_URL = env.BENCH_REDIS_URL?.trim() || 'redis://127.0.0.1:6379';
const DB = 3;
const N = Number(env.BENCH_MEMORY_N ?? 100_000);
const SHORT_N = Number(env.BENCH_MEMORY_SHORT_N ?? 5_000);
const CONCURRENCY = Number(env.BENCH_MEMORY_CONCURRENCY ?? 256);
const CLOCK_TOLERANCE = 15;
const SHORT_TTL = 2; // seconds, as stored in Redis (expiresIn + clockTolerance)
const WAIT_MS = 4_000;
// config/default.json
const TTL = { session: 1_209_600, grant: 1_209_600, refreshToken: 1_209_600, accessToken: 3_600 };
const CLIENTS = ['grafana', 'gitlab', 'wiki', 'jira', 'nextcloud'].map((name) => `${name}-${randomUUID().slice(0, 8)}`);

function dbUrl(url: string, db: number): string {
  const parsed = parseRedisUrl(url);
  if (parsed.kind === 'cluster') throw new Error('BENCH_REDIS_URL must be a single or Sentinel Redis, not a Cluster');
  const authority = /^[^:]+:\/\/[^/?#]*/.exec(url)?.[0] ?? url;
  return parsed.kind === 'single' ? `${authority}/${db}` : `${authority}/${encodeURIComponent(parsed.name)}/${db}`;
}

/** oidc-provider 9 ids: nanoid() is 21 URL-safe characters, token ids 43. */
const nanoid = (length = 21): string =>
  randomBytes(Math.ceil((length * 3) / 4))
    .toString('base64url')
    .slice(0, length);
const now = (): number => Math.floor(Date.now() / 1000);

interface Login {
  accountId: string;
  clientId: string;
  sessionId: string;
  sessionUid: string;
  sid: string;
  grantId: string;
  accessTokenId: string;
  refreshTokenId: string;
}

function makeLogin(accountId: string): Login {
  return {
    accountId,
    clientId: CLIENTS[Math.floor(Math.random() * CLIENTS.length)]!,
    sessionId: nanoid(43),
    sessionUid: nanoid(21),
    sid: nanoid(21),
    grantId: nanoid(43),
    accessTokenId: nanoid(43),
    refreshTokenId: nanoid(43),
  };
}

// Shapes of what oidc-provider 9.13 passes to `upsert` (BaseModel#getValueAndPayload: the model's
// IN_PAYLOAD properties that are set), for an authorization_code login with openid profile email.
function sessionPayload(l: Login, iat: number, expiresIn: number): AdapterPayload {
  return {
    iat,
    exp: iat + expiresIn,
    uid: l.sessionUid,
    jti: l.sessionId,
    kind: 'Session',
    accountId: l.accountId,
    loginTs: iat,
    amr: ['dingtalk'],
    authorizations: { [l.clientId]: { sid: l.sid, grantId: l.grantId, persistsLogout: false } },
  };
}

function grantPayload(l: Login, iat: number, expiresIn: number): AdapterPayload {
  return {
    iat,
    exp: iat + expiresIn,
    jti: l.grantId,
    kind: 'Grant',
    accountId: l.accountId,
    clientId: l.clientId,
    openid: { scope: 'openid profile email offline_access', claims: ['sub', 'name', 'email', 'picture', 'sid', 'auth_time', 'acr', 'amr'] },
    resources: {},
    rejected: undefined,
  };
}

function tokenPayload(kind: 'AccessToken' | 'RefreshToken', id: string, l: Login, iat: number, expiresIn: number): AdapterPayload {
  const common = {
    iat,
    exp: iat + expiresIn,
    jti: id,
    kind,
    accountId: l.accountId,
    clientId: l.clientId,
    grantId: l.grantId,
    scope: 'openid profile email offline_access',
    claims: { id_token: { auth_time: { essential: true } } },
    gty: 'authorization_code',
    sid: l.sid,
    sessionUid: l.sessionUid,
    expiresWithSession: false,
  };
  return kind === 'RefreshToken'
    ? { ...common, iiat: iat, rotations: 0, acr: 'urn:dingtalk:loa:1', amr: ['dingtalk'], authTime: iat, nonce: nanoid(22) }
    : { ...common, aud: undefined };
}

/** Runs `fn` over `items` with at most CONCURRENCY in flight (ioredis pipelines what is in flight). */
async function each<T>(items: readonly T[], fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker));
}

function infoField(info: string, field: string): number {
  const match = new RegExp(`^${field}:(\\d+)`, 'm').exec(info);
  return match ? Number(match[1]) : NaN;
}

interface Snapshot {
  usedMemory: number;
  keys: number;
}

async function snapshot(redis: RedisClient): Promise<Snapshot> {
  const info = await redis.info('memory');
  return { usedMemory: infoField(info, 'used_memory'), keys: await redis.dbsize() };
}

async function scanKeys(redis: RedisClient, match: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [nextCursor, batch] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 5000);
    keys.push(...batch);
    cursor = nextCursor;
  } while (cursor !== '0');
  return keys;
}

/** Pipelined per-key command over many keys, in chunks. */
async function perKey<R>(
  redis: RedisClient,
  keys: readonly string[],
  add: (p: ReturnType<RedisClient['pipeline']>, key: string) => void,
): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < keys.length; i += 5000) {
    const pipeline = redis.pipeline();
    for (const key of keys.slice(i, i + 5000)) add(pipeline, key);
    const results = (await pipeline.exec()) ?? [];
    for (const [error, value] of results) {
      if (error) throw error;
      out.push(value as R);
    }
  }
  return out;
}

interface SetStats {
  sets: number;
  members: number;
  maxMembers: number;
  bytes: number;
  withoutTtl: number;
}

async function setStats(redis: RedisClient, match: string): Promise<SetStats> {
  const keys = await scanKeys(redis, match);
  const cards = await perKey<number>(redis, keys, (p, k) => p.scard(k));
  const bytes = await perKey<number | null>(redis, keys, (p, k) => p.memory('USAGE', k, 'SAMPLES', '0'));
  const ttls = await perKey<number>(redis, keys, (p, k) => p.ttl(k));
  return {
    sets: keys.length,
    members: cards.reduce((a, b) => a + b, 0),
    maxMembers: cards.reduce((a, b) => Math.max(a, b), 0),
    bytes: bytes.reduce<number>((a, b) => a + (b ?? 0), 0),
    withoutTtl: ttls.filter((t) => t < 0).length,
  };
}

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const mib = (bytes: number): string => `${fmt(bytes / 1024 / 1024, 1)} MiB`;

function table(rows: (string | number)[][]): string {
  const cells = rows.map((row) => row.map(String));
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  const line = (row: string[]): string =>
    `| ${row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(cells[0]!), rule, ...cells.slice(1).map(line)].join('\n');
}

async function main(): Promise<void> {
  const url = dbUrl(BASE_URL, DB);
  const redis = createRedis(url);
  const before = await redis.dbsize();
  await redis.flushdb();
  console.log(
    `memory bench: Redis ${url}: database ${DB} FLUSHED (it had ${before} keys). N=${N}, short batch ${SHORT_N}, concurrency ${CONCURRENCY}`,
  );

  const Adapter = createRedisAdapterFactory(redis, { clockTolerance: CLOCK_TOLERANCE });
  const sessions = new Adapter('Session');
  const grants = new Adapter('Grant');
  const accessTokens = new Adapter('AccessToken');
  const refreshTokens = new Adapter('RefreshToken');

  const serverInfo = await redis.info('server');
  const version = /^redis_version:(\S+)/m.exec(serverInfo)?.[1];
  const memInfo = await redis.info('memory');
  const allocator = /^mem_allocator:(\S+)/m.exec(memInfo)?.[1];

  const accounts = Math.max(1, Math.floor(N / 10));
  const accountIds = Array.from({ length: accounts }, () => randomUUID());
  const logins = Array.from({ length: N }, (_, i) => makeLogin(accountIds[i % accounts]!));

  const baseline = await snapshot(redis);
  const phases: { name: string; records: number; seconds: number; bytes: number; keys: number }[] = [];
  let previous = baseline;
  const iat = now();
  const started = Date.now();
  const phase = async (name: string, fn: (l: Login) => Promise<unknown>): Promise<void> => {
    const t0 = Date.now();
    await each(logins, fn);
    const seconds = (Date.now() - t0) / 1000;
    const snap = await snapshot(redis);
    phases.push({ name, records: N, seconds, bytes: snap.usedMemory - previous.usedMemory, keys: snap.keys - previous.keys });
    console.log(
      `  ${name}: ${N} in ${seconds.toFixed(1)} s, +${mib(snap.usedMemory - previous.usedMemory)}, +${snap.keys - previous.keys} keys`,
    );
    previous = snap;
  };

  await phase('Session', (l) => sessions.upsert(l.sessionId, sessionPayload(l, iat, TTL.session), TTL.session));
  await phase('Grant', (l) => grants.upsert(l.grantId, grantPayload(l, iat, TTL.grant), TTL.grant));
  await phase('AccessToken', (l) =>
    accessTokens.upsert(l.accessTokenId, tokenPayload('AccessToken', l.accessTokenId, l, iat, TTL.accessToken), TTL.accessToken),
  );
  await phase('RefreshToken', (l) =>
    refreshTokens.upsert(l.refreshTokenId, tokenPayload('RefreshToken', l.refreshTokenId, l, iat, TTL.refreshToken), TTL.refreshToken),
  );
  const writeSeconds = (Date.now() - started) / 1000;
  const full = previous;

  const accountSessionSets = await setStats(redis, 'oidc:account:*:Session');
  const accountGrantSets = await setStats(redis, 'oidc:account:*:Grant');
  const grantSets = await setStats(redis, 'oidc:grant:*');
  const uidKeys = (await scanKeys(redis, 'oidc:sessionUid:*')).length;
  const recordBytes = async (pattern: string): Promise<{ memoryUsage: number; payloadJson: number }> => {
    const sample = (await scanKeys(redis, pattern)).slice(0, 1000);
    const sizes = await perKey<number | null>(redis, sample, (p, k) => p.memory('USAGE', k, 'SAMPLES', '0'));
    const payloads = await perKey<string | null>(redis, sample, (p, k) => p.get(k));
    return {
      memoryUsage: Math.round(sizes.reduce<number>((a, b) => a + (b ?? 0), 0) / sample.length),
      payloadJson: Math.round(payloads.reduce((a, b) => a + (b?.length ?? 0), 0) / sample.length),
    };
  };
  const recordSizes = {
    Session: await recordBytes('oidc:Session:*'),
    Grant: await recordBytes('oidc:Grant:*'),
    AccessToken: await recordBytes('oidc:AccessToken:*'),
    RefreshToken: await recordBytes('oidc:RefreshToken:*'),
  };

  const bytesOf = (name: string): number => phases.find((p) => p.name === name)!.bytes;
  const perSession = bytesOf('Session') / N;
  const perGrantWithTokens = (bytesOf('Grant') + bytesOf('AccessToken') + bytesOf('RefreshToken')) / N;

  console.log('');
  console.log(
    table([
      ['phase', 'records', 'seconds', 'used_memory +', 'bytes/record', 'keys +'],
      ...phases.map((p) => [p.name, fmt(p.records), p.seconds.toFixed(1), mib(p.bytes), fmt(p.bytes / p.records), fmt(p.keys)]),
      [
        'total',
        fmt(N),
        writeSeconds.toFixed(1),
        mib(full.usedMemory - baseline.usedMemory),
        fmt((full.usedMemory - baseline.usedMemory) / N),
        fmt(full.keys - baseline.keys),
      ],
    ]),
  );
  console.log('');
  console.log(`per session (record + uid index + account index entry): ${fmt(perSession)} bytes`);
  console.log(
    `per grant with its access + refresh token (records + grant index set + account index entry): ${fmt(perGrantWithTokens)} bytes`,
  );
  console.log(
    `per login (session + grant + 2 tokens): ${fmt(perSession + perGrantWithTokens)} bytes; 1 GiB ≈ ${fmt(2 ** 30 / (perSession + perGrantWithTokens))} logins`,
  );
  console.log('');
  console.log(
    table([
      ['index', 'sets', 'members', 'max members', 'MEMORY USAGE', 'bytes/member', 'without TTL'],
      ...(
        [
          ['oidc:account:*:Session', accountSessionSets],
          ['oidc:account:*:Grant', accountGrantSets],
          ['oidc:grant:*', grantSets],
        ] as const
      ).map(([name, s]) => [
        name,
        fmt(s.sets),
        fmt(s.members),
        fmt(s.maxMembers),
        mib(s.bytes),
        fmt(s.bytes / Math.max(1, s.members)),
        fmt(s.withoutTtl),
      ]),
    ]),
  );
  console.log(`sessionUid index keys: ${fmt(uidKeys)}`);
  console.log(
    `records (mean of 1 000, MEMORY USAGE / payload JSON bytes): ${Object.entries(recordSizes)
      .map(([m, r]) => `${m} ${r.memoryUsage} / ${r.payloadJson}`)
      .join(', ')}`,
  );

  // ---- 2. expiry ----------------------------------------------------------------------------
  const shortExpiresIn = SHORT_TTL - CLOCK_TOLERANCE; // the adapter adds the clock tolerance back
  const beforeShort = await snapshot(redis);
  const shortAccounts = Array.from({ length: Math.max(1, Math.floor(SHORT_N / 10)) }, () => randomUUID());
  const shortLogins = Array.from({ length: SHORT_N }, (_, i) => makeLogin(shortAccounts[i % shortAccounts.length]!));
  // Short-lived records attached to long-lived indexes: a second session of a live account, and a
  // new access token of a live grant (what every refresh does).
  const MIXED = Math.min(1_000, N);
  const mixedSessions = logins.slice(0, MIXED).map((l) => ({ ...makeLogin(l.accountId) }));
  const mixedTokens = logins.slice(0, MIXED).map((l) => ({ ...l, accessTokenId: nanoid(43) }));
  const cardsBefore = {
    accountSessions: await perKey<number>(
      redis,
      mixedSessions.map((l) => `oidc:account:${l.accountId}:Session`),
      (p, k) => p.scard(k),
    ),
    grants: await perKey<number>(
      redis,
      mixedTokens.map((l) => `oidc:grant:${l.grantId}`),
      (p, k) => p.scard(k),
    ),
  };
  const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
  const uniqueAccountSets = [...new Set(mixedSessions.map((l) => `oidc:account:${l.accountId}:Session`))];
  const accountMembersBefore = sum(await perKey<number>(redis, uniqueAccountSets, (p, k) => p.scard(k)));
  const grantMembersBefore = sum(cardsBefore.grants);

  const shortIat = now();
  const t0 = Date.now();
  await each(shortLogins, (l) =>
    Promise.all([
      sessions.upsert(l.sessionId, sessionPayload(l, shortIat, shortExpiresIn), shortExpiresIn),
      grants.upsert(l.grantId, grantPayload(l, shortIat, shortExpiresIn), shortExpiresIn),
      accessTokens.upsert(l.accessTokenId, tokenPayload('AccessToken', l.accessTokenId, l, shortIat, shortExpiresIn), shortExpiresIn),
      refreshTokens.upsert(l.refreshTokenId, tokenPayload('RefreshToken', l.refreshTokenId, l, shortIat, shortExpiresIn), shortExpiresIn),
    ]),
  );
  await each(mixedSessions, (l) => sessions.upsert(l.sessionId, sessionPayload(l, shortIat, shortExpiresIn), shortExpiresIn));
  await each(mixedTokens, (l) =>
    accessTokens.upsert(l.accessTokenId, tokenPayload('AccessToken', l.accessTokenId, l, shortIat, shortExpiresIn), shortExpiresIn),
  );
  const shortWriteMs = Date.now() - t0;
  const withShort = await snapshot(redis);
  console.log('');
  console.log(
    `expiry: wrote ${SHORT_N} short logins (${shortAccounts.length} fresh accounts) + ${MIXED} sessions on live accounts + ${MIXED} access tokens on live grants, TTL ${SHORT_TTL} s, in ${shortWriteMs} ms: +${fmt(withShort.keys - beforeShort.keys)} keys, +${mib(withShort.usedMemory - beforeShort.usedMemory)}`,
  );
  if (shortWriteMs > (SHORT_TTL - 0.5) * 1000)
    console.log(`  (note: writing took longer than the TTL; some records expired while the batch was written)`);

  await new Promise((resolve) => setTimeout(resolve, WAIT_MS));
  const afterWaitNatural = await snapshot(redis); // before anything touches the expired keys

  const shortKeys = [
    ...shortLogins.flatMap((l) => [
      `oidc:Session:${l.sessionId}`,
      `oidc:sessionUid:${l.sessionUid}`,
      `oidc:Grant:${l.grantId}`,
      `oidc:AccessToken:${l.accessTokenId}`,
      `oidc:RefreshToken:${l.refreshTokenId}`,
      `oidc:grant:${l.grantId}`,
    ]),
    ...shortAccounts.flatMap((a) => [`oidc:account:${a}:Session`, `oidc:account:${a}:Grant`]),
    ...mixedSessions.flatMap((l) => [`oidc:Session:${l.sessionId}`, `oidc:sessionUid:${l.sessionUid}`]),
    ...mixedTokens.map((l) => `oidc:AccessToken:${l.accessTokenId}`),
  ];
  const stillThere = (await perKey<number>(redis, shortKeys, (p, k) => p.exists(k))).filter((x) => x === 1).length;
  const afterTouch = await snapshot(redis);
  const accountMembersAfter = sum(await perKey<number>(redis, uniqueAccountSets, (p, k) => p.scard(k)));
  const grantMembersAfter = sum(
    await perKey<number>(
      redis,
      mixedTokens.map((l) => `oidc:grant:${l.grantId}`),
      (p, k) => p.scard(k),
    ),
  );
  const staleAccountMembers = accountMembersAfter - accountMembersBefore;
  const staleGrantMembers = grantMembersAfter - grantMembersBefore;

  // Every key left must expire some day.
  const allKeys = await scanKeys(redis, 'oidc:*');
  const ttls = await perKey<number>(redis, allKeys, (p, k) => p.ttl(k));
  const noTtl = allKeys.filter((_, i) => ttls[i]! < 0);
  const indexKeys = allKeys.filter((k) => k.startsWith('oidc:account:') || k.startsWith('oidc:grant:'));

  console.log(
    table([
      ['after', 'DBSIZE', 'vs before batch', 'used_memory', 'vs before batch'],
      [
        'batch written',
        fmt(withShort.keys),
        `+${fmt(withShort.keys - beforeShort.keys)}`,
        mib(withShort.usedMemory),
        mib(withShort.usedMemory - beforeShort.usedMemory),
      ],
      [
        `${WAIT_MS / 1000} s, untouched`,
        fmt(afterWaitNatural.keys),
        fmt(afterWaitNatural.keys - beforeShort.keys),
        mib(afterWaitNatural.usedMemory),
        mib(afterWaitNatural.usedMemory - beforeShort.usedMemory),
      ],
      [
        'EXISTS on each',
        fmt(afterTouch.keys),
        fmt(afterTouch.keys - beforeShort.keys),
        mib(afterTouch.usedMemory),
        mib(afterTouch.usedMemory - beforeShort.usedMemory),
      ],
    ]),
  );
  console.log(`short-batch keys still readable after ${WAIT_MS / 1000} s: ${stillThere} of ${shortKeys.length}`);
  console.log(
    `scanned ${fmt(allKeys.length)} oidc:* keys (${fmt(indexKeys.length)} account/grant index sets): ${noTtl.length} without TTL`,
  );
  console.log(
    `stale members left in live index sets (records gone, set kept alive by its long-lived members): ${staleAccountMembers} of ${MIXED} in oidc:account:*:Session, ${staleGrantMembers} of ${MIXED} in oidc:grant:*`,
  );

  const failures: string[] = [];
  if (noTtl.length > 0) failures.push(`${noTtl.length} keys without TTL, e.g. ${noTtl.slice(0, 5).join(', ')}`);
  if (stillThere > 0) failures.push(`${stillThere} short-batch keys still exist after ${WAIT_MS} ms`);
  if (afterTouch.keys !== beforeShort.keys)
    failures.push(`DBSIZE ${afterTouch.keys} after expiry, ${beforeShort.keys} before the short batch`);

  const result = {
    date: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      redis: version,
      allocator,
    },
    settings: {
      url,
      N,
      accounts,
      SHORT_N,
      SHORT_TTL,
      WAIT_MS,
      CONCURRENCY,
      clockTolerance: CLOCK_TOLERANCE,
      ttl: TTL,
      clients: CLIENTS.length,
    },
    baseline,
    full,
    writeSeconds,
    phases,
    perSessionBytes: perSession,
    perGrantWithTokensBytes: perGrantWithTokens,
    recordSizes,
    indexes: { accountSessionSets, accountGrantSets, grantSets, sessionUidKeys: uidKeys },
    expiry: {
      beforeShort,
      withShort,
      afterWaitNatural,
      afterTouch,
      shortWriteMs,
      shortKeys: shortKeys.length,
      stillThere,
      scannedKeys: allKeys.length,
      indexKeys: indexKeys.length,
      keysWithoutTtl: noTtl.slice(0, 100),
      mixed: MIXED,
      staleAccountMembers,
      staleGrantMembers,
    },
    failures,
  };
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `memory-${result.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\nresults: ${file}`);

  await redis.quit();
  if (failures.length > 0) {
    for (const failure of failures) console.error(`FAIL: ${failure}`);
    process.exitCode = 1;
  } else {
    console.log('OK: every record and index entry of the short batch expired; every key left has a TTL');
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
