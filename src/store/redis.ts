import { Cluster, type Command, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

import { ConfigError } from '../errors/app-error.js';

/** A connected (or connecting) ioredis client: one server, a Sentinel group or a Cluster. */
export type RedisClient = Redis | Cluster;

/** One `host:port` pair from a Redis URL. */
export interface RedisHost {
  host: string;
  port: number;
}

/** Credentials and transport shared by every URL form. */
interface RedisUrlCommon {
  /** ACL user name (Redis >= 6); absent means the `default` user. */
  username?: string;
  password?: string;
  /** True for the `rediss…://` schemes. */
  tls: boolean;
}

/** What {@link parseRedisUrl} found in a Redis URL, before any connection is made. */
export type RedisUrlDescription =
  | (RedisUrlCommon & { kind: 'single'; host: string; port: number; db: number })
  | (RedisUrlCommon & { kind: 'sentinel'; sentinels: RedisHost[]; name: string; db: number })
  | (RedisUrlCommon & { kind: 'cluster'; nodes: RedisHost[] });

/** Options of {@link createRedis}. */
export interface CreateRedisOptions {
  /** Prepended by ioredis to every key (also inside Lua `KEYS`). */
  keyPrefix?: string;
  /** Do not connect until the first command or an explicit `connect()`. */
  lazyConnect?: boolean;
}

const SCHEMES = {
  'redis:': { kind: 'single', tls: false, defaultPort: 6379 },
  'rediss:': { kind: 'single', tls: true, defaultPort: 6379 },
  'redis-sentinel:': { kind: 'sentinel', tls: false, defaultPort: 26379 },
  'rediss-sentinel:': { kind: 'sentinel', tls: true, defaultPort: 26379 },
  'redis-cluster:': { kind: 'cluster', tls: false, defaultPort: 6379 },
  'rediss-cluster:': { kind: 'cluster', tls: true, defaultPort: 6379 },
} as const;

type Scheme = keyof typeof SCHEMES;

function isScheme(value: string): value is Scheme {
  return Object.hasOwn(SCHEMES, value);
}

/** Never echo a password back into an error message or a log line. */
function redact(url: string): string {
  return url.replace(/^([^:/?#]+:\/\/)[^@/?#]*@/, '$1***@');
}

function invalid(url: string, reason: string): ConfigError {
  return new ConfigError([`REDIS_URL ${reason} (got "${redact(url)}")`]);
}

function decode(url: string, part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw invalid(url, 'has a malformed %-escape');
  }
}

function parseHost(url: string, entry: string, defaultPort: number): RedisHost {
  // `[::1]:6379` keeps its brackets out of the host; `host:port` splits at the last colon.
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+))(?::(\d*))?$/.exec(entry);
  const host = match?.[1] ?? match?.[2];
  if (!match || !host) throw invalid(url, `has an invalid host "${entry}"`);
  const portText = match[3];
  if (portText === undefined || portText === '') return { host, port: defaultPort };
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw invalid(url, `has an invalid port "${portText}"`);
  }
  return { host, port };
}

function parseDb(url: string, segment: string | undefined): number {
  if (segment === undefined) return 0;
  if (!/^\d{1,5}$/.test(segment)) throw invalid(url, `has an invalid database number "${segment}"`);
  return Number(segment);
}

/**
 * Parses a Redis URL into a description of what {@link createRedis} will connect to. Pure: it
 * opens no connection, so configuration errors surface at startup with a message naming
 * REDIS_URL (the password is masked).
 *
 * Accepted forms (user name, password, master name and hosts may be %-encoded):
 * - `redis://[[user]:password@]host[:port][/db]` — one server; `rediss://` for TLS.
 * - `redis-sentinel://[[user]:password@]host1[:port1],host2[:port2]/<masterName>[/db]` —
 *   Sentinel; the hosts are Sentinels (default port 26379), the credentials are the master's
 *   (the Sentinels themselves are contacted without a password).
 *   `rediss-sentinel://` uses TLS to the Sentinels and to the master.
 * - `redis-cluster://[[user]:password@]host1[:port1],host2[:port2]` — Cluster seed nodes;
 *   `rediss-cluster://` for TLS. No database number: Cluster only has database 0.
 *
 * IPv6 hosts are written in brackets (`redis://[::1]:6379`). Query strings are rejected rather
 * than silently ignored.
 *
 * @throws ConfigError naming REDIS_URL when the URL is not one of these forms.
 */
export function parseRedisUrl(url: string): RedisUrlDescription {
  // WHATWG `URL` cannot parse a comma-separated host list, so the authority is split by hand.
  const match = /^([a-z][a-z0-9+.-]*:)\/\/([^/?#]*)([^?#]*)(.*)$/i.exec(url.trim());
  if (!match) throw invalid(url, 'is not a URL');
  const [, rawScheme = '', authority = '', path = '', rest = ''] = match;
  const scheme = rawScheme.toLowerCase();
  if (!isScheme(scheme)) {
    throw invalid(url, 'must start with redis://, rediss://, redis-sentinel://, rediss-sentinel://, redis-cluster:// or rediss-cluster://');
  }
  if (rest !== '') throw invalid(url, 'must not have a query string or fragment');
  const { kind, tls, defaultPort } = SCHEMES[scheme];

  const at = authority.lastIndexOf('@');
  const userinfo = at === -1 ? undefined : authority.slice(0, at);
  const hostList = at === -1 ? authority : authority.slice(at + 1);

  const credentials: RedisUrlCommon = { tls };
  if (userinfo !== undefined) {
    // Same reading as ioredis: `user:password`, `:password`, or a bare user name.
    const colon = userinfo.indexOf(':');
    const username = decode(url, colon === -1 ? userinfo : userinfo.slice(0, colon));
    const password = colon === -1 ? '' : decode(url, userinfo.slice(colon + 1));
    if (username) credentials.username = username;
    if (password) credentials.password = password;
  }

  if (hostList === '') throw invalid(url, 'has no host');
  const hosts = hostList.split(',').map((entry) => parseHost(url, decode(url, entry), defaultPort));
  const segments = path.split('/').filter((segment) => segment !== '');

  switch (kind) {
    case 'single': {
      const [host] = hosts;
      if (!host || hosts.length !== 1) {
        throw invalid(url, 'lists several hosts: use redis-sentinel:// or redis-cluster://');
      }
      if (segments.length > 1) throw invalid(url, 'has a path other than /<db>');
      return { kind, ...credentials, ...host, db: parseDb(url, segments[0]) };
    }
    case 'sentinel': {
      const [name, db, ...extra] = segments;
      if (name === undefined) throw invalid(url, 'needs the Sentinel master name as its path (/<masterName>[/db])');
      if (extra.length > 0) throw invalid(url, 'has a path other than /<masterName>[/db]');
      return { kind, ...credentials, sentinels: hosts, name: decode(url, name), db: parseDb(url, db) };
    }
    case 'cluster': {
      if (segments.length > 0) throw invalid(url, 'must not have a path: Redis Cluster has only database 0');
      return { kind, ...credentials, nodes: hosts };
    }
  }
}

/**
 * Reconnect delay: exponential from 100 ms, capped at 5 s, with jitter so a fleet of instances
 * does not reconnect in lockstep after a Redis restart. Never gives up: the provider must recover
 * on its own once Redis is back.
 */
function backoff(times: number): number {
  return Math.min(100 * 2 ** Math.max(0, times - 1), 5_000) + Math.floor(Math.random() * 100);
}

/**
 * Settings shared by every kind of connection. The provider answers HTTP requests while it waits
 * for Redis, so a Redis outage must turn into a fast error (a 5xx), not a hung request:
 * - `commandTimeout` bounds every command, including those queued while disconnected. The
 *   offline queue stays on so that commands issued during startup wait for the first connection.
 * - `maxRetriesPerRequest: 1` flushes the offline queue with an error after one failed reconnect
 *   instead of the default 20.
 * - `enableAutoPipelining`: commands issued in the same turn of the event loop (by all the
 *   requests being served) leave in one write (issue #15: a socket write per command was the
 *   largest single cost of a token request). MULTI and subscriptions are not pipelined (ioredis
 *   excludes them). Not on a Cluster: there ioredis holds an auto-pipelined command, with no
 *   timer, until it knows the slots, which would hang requests while the whole Cluster is down.
 */
const COMMON_OPTIONS = {
  connectTimeout: 5_000,
  commandTimeout: 2_000,
  maxRetriesPerRequest: 1,
  enableOfflineQueue: true,
  enableReadyCheck: true,
  keepAlive: 30_000,
  enableAutoPipelining: true,
} satisfies RedisOptions;

/**
 * Makes a Cluster's commands time out like a single server's. ioredis applies `commandTimeout` only
 * inside a node connection: while the Cluster itself is reconnecting (every node down) a command
 * waits in the Cluster's offline queue with no timer, and `clusterRetryStrategy` never gives up, so
 * a whole-Cluster outage hung every request instead of failing it within 2 s. The timer now starts
 * when the command enters the Cluster (`Command#setTimeout` keeps the first timer, so the node
 * connection does not restart it). `duplicate()` (the pub/sub connection) gets the same treatment.
 */
function withClusterCommandTimeout(cluster: Cluster, ms: number): Cluster {
  const send = cluster.sendCommand.bind(cluster);
  cluster.sendCommand = (command: Command, stream?: Parameters<Cluster['sendCommand']>[1], node?: unknown): unknown => {
    command.setTimeout(ms);
    return send(command, stream, node);
  };
  const duplicate = cluster.duplicate.bind(cluster);
  cluster.duplicate = (...args: Parameters<Cluster['duplicate']>) => withClusterCommandTimeout(duplicate(...args), ms);
  return cluster;
}

/**
 * Creates an ioredis client for a Redis URL (see {@link parseRedisUrl} for the accepted forms):
 * a `Redis` for `redis://` and `redis-sentinel://`, a `Cluster` for `redis-cluster://`.
 *
 * The client connects immediately unless `lazyConnect` is set. Commands fail after about 2 s
 * when Redis is unreachable, and the client keeps reconnecting with capped backoff.
 * The caller owns the client and must `quit()` it on shutdown.
 *
 * @throws ConfigError naming REDIS_URL when the URL is invalid.
 */
export function createRedis(url: string, options: CreateRedisOptions = {}): RedisClient {
  const parsed = parseRedisUrl(url);
  const { keyPrefix, lazyConnect = false } = options;
  const auth = {
    ...(parsed.username === undefined ? {} : { username: parsed.username }),
    ...(parsed.password === undefined ? {} : { password: parsed.password }),
  };
  // An empty object turns TLS on with Node's defaults (system CAs, SNI from the host name).
  const tls = parsed.tls ? { tls: {} } : {};

  switch (parsed.kind) {
    case 'single':
      return new Redis({
        ...COMMON_OPTIONS,
        ...auth,
        ...tls,
        host: parsed.host,
        port: parsed.port,
        db: parsed.db,
        lazyConnect,
        retryStrategy: backoff,
        ...(keyPrefix === undefined ? {} : { keyPrefix }),
      });
    case 'sentinel':
      return new Redis({
        ...COMMON_OPTIONS,
        ...auth,
        ...tls,
        ...(parsed.tls ? { enableTLSForSentinelMode: true } : {}),
        sentinels: parsed.sentinels,
        name: parsed.name,
        db: parsed.db,
        lazyConnect,
        retryStrategy: backoff,
        sentinelRetryStrategy: backoff,
        sentinelCommandTimeout: COMMON_OPTIONS.commandTimeout,
        // Follow a failover at once: listen for +switch-master on the Sentinels and reconnect to the
        // new master. Without it the client stays on the demoted master, which keeps accepting
        // writes until the Sentinels reconfigure it (seconds later) and then drops them in the resync.
        failoverDetector: true,
        ...(keyPrefix === undefined ? {} : { keyPrefix }),
      });
    case 'cluster': {
      const clusterOptions: ClusterOptions = {
        // Per-node settings; the offline queue and retry strategy are cluster-level options.
        redisOptions: {
          ...auth,
          ...tls,
          connectTimeout: COMMON_OPTIONS.connectTimeout,
          commandTimeout: COMMON_OPTIONS.commandTimeout,
          maxRetriesPerRequest: COMMON_OPTIONS.maxRetriesPerRequest,
          enableReadyCheck: COMMON_OPTIONS.enableReadyCheck,
          keepAlive: COMMON_OPTIONS.keepAlive,
        },
        enableOfflineQueue: COMMON_OPTIONS.enableOfflineQueue,
        enableReadyCheck: COMMON_OPTIONS.enableReadyCheck,
        clusterRetryStrategy: backoff,
        slotsRefreshTimeout: COMMON_OPTIONS.commandTimeout,
        lazyConnect,
        ...(keyPrefix === undefined ? {} : { keyPrefix }),
      };
      return withClusterCommandTimeout(new Cluster(parsed.nodes, clusterOptions), COMMON_OPTIONS.commandTimeout);
    }
  }
}

/**
 * Readiness of a client (for `/readyz`): resolves when Redis can serve keyed commands. A PING is
 * enough for one server or a Sentinel master, not for a Cluster: a node answers PONG while the
 * Cluster is down (`cluster_state:fail`, a master lost) and every keyed command fails with
 * CLUSTERDOWN, so a Cluster is asked for `CLUSTER INFO` instead.
 *
 * @throws when Redis does not answer (within the command timeout) or the Cluster is not `ok`.
 */
export async function checkRedisReady(client: RedisClient): Promise<void> {
  if (client instanceof Cluster) {
    const info = String(await client.cluster('INFO'));
    const state = /^cluster_state:(\w+)/m.exec(info)?.[1];
    if (state !== 'ok') throw new Error(`CLUSTERDOWN cluster_state:${state ?? 'unknown'}`);
    return;
  }
  await client.ping();
}
