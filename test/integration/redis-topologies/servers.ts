/**
 * Redis Cluster and Redis Sentinel groups of our own for the topology tests: every server on a free
 * loopback port, keeping nothing on disk but its Cluster or Sentinel configuration under /tmp,
 * started through test/helpers/services.ts so that each dies with the test process (and is killed
 * at exit, its folder removed, even after a failure).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from '../../helpers/bootstrap.js';
import {
  privateFolder,
  privateRedisArgs,
  redisPing,
  redisServerBinary,
  redisServerProcess,
  removePrivateFolder,
  type ServerProcess,
} from '../../helpers/services.js';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function redisCliBinary(): string {
  const found = [
    process.env.REDIS_CLI,
    path.join(path.dirname(redisServerBinary()), 'redis-cli'),
    '/usr/bin/redis-cli',
    '/usr/local/bin/redis-cli',
  ].find((file): file is string => typeof file === 'string' && existsSync(file));
  if (!found) throw new Error('redis-cli not found: install it (Debian: apt-get install redis-tools) or set REDIS_CLI');
  return found;
}

/**
 * One command to one server (or Sentinel) on a loopback port, on a connection of its own that
 * neither retries nor queues: an administration call of the test, never of the product.
 */
export async function redisCall(port: number, command: string, ...args: (string | number)[]): Promise<unknown> {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    protocol: 2,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 2000,
    commandTimeout: 3000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await client.call(command, ...args.map(String));
  } finally {
    client.disconnect();
  }
}

/** `INFO <section>` as a map of its `field:value` lines. */
export async function redisInfo(port: number, section: string): Promise<Record<string, string>> {
  const text = String(await redisCall(port, 'INFO', section));
  return Object.fromEntries(
    text
      .split(/\r?\n/)
      .filter((line) => line.includes(':') && !line.startsWith('#'))
      .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1)]),
  );
}

async function pollUntil(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    await sleep(50);
  }
  throw new Error(`${what} within ${timeoutMs} ms${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`);
}

/** Stop every server of a group at once (SIGKILL: they keep nothing anyway), then remove its folder. */
async function killAll(servers: ServerProcess[], dir: string): Promise<void> {
  await Promise.all(servers.map((server) => server.kill('SIGKILL')));
  removePrivateFolder(dir);
}

export interface PrivateRedisCluster {
  /** `redis-cluster://127.0.0.1:<p1>,127.0.0.1:<p2>`: two of the masters as seed nodes. */
  url: string;
  /** Client ports of the masters. */
  ports: number[];
  /** FLUSHALL on every master (a Cluster client's FLUSHALL reaches one node only). */
  flushAll(): Promise<void>;
  /** Keys on each master, by port. */
  keyCounts(): Promise<Record<number, number>>;
  /** Stop every node (SIGTERM): the whole Cluster is down, its ports closed. */
  stop(): Promise<void>;
  /** Stop the node on `port` only: its slots are lost, so the others soon report cluster_state:fail. */
  stopNode(port: number): Promise<void>;
  /** Start every stopped node again on its port (empty; the Cluster layout is kept) and wait for cluster_state:ok. */
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A Redis Cluster of `masters` (default 3, no replicas) redis-server processes on free loopback
 * ports (their cluster bus on other free ports), joined with `redis-cli --cluster create`; resolves
 * once every node reports `cluster_state:ok` and knows every other.
 */
export async function startPrivateRedisCluster(options: { masters?: number } = {}): Promise<PrivateRedisCluster> {
  const masters = options.masters ?? 3;
  const dir = privateFolder('/tmp/dingtalk-oidc-redis-cluster-');
  const servers: ServerProcess[] = [];
  const ports: number[] = [];
  const clusterOk = (): Promise<void> =>
    pollUntil(
      'the Redis Cluster did not reach cluster_state:ok on every node',
      async () => {
        const infos = await Promise.all(ports.map(async (port) => String(await redisCall(port, 'CLUSTER', 'INFO'))));
        return infos.every((info) => /cluster_state:ok/.test(info) && new RegExp(`cluster_known_nodes:${masters}\\b`).test(info));
      },
      15_000,
    );
  try {
    for (let i = 0; i < masters; i += 1) {
      const port = await freePort();
      const busPort = await freePort();
      ports.push(port);
      const server = redisServerProcess(`redis-server (cluster node ${port})`, [
        ...privateRedisArgs(port, dir),
        '--cluster-port',
        String(busPort),
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        path.join(dir, `nodes-${port}.conf`),
        '--cluster-node-timeout',
        '2000',
      ]);
      servers.push(server);
      server.spawn();
    }
    await Promise.all(servers.map((server, i) => server.waitUntil(() => redisPing(ports[i]!))));
    try {
      await promisify(execFile)(
        redisCliBinary(),
        ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes'],
        { timeout: 20_000 },
      );
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string; message: string };
      throw new Error(`redis-cli --cluster create failed: ${e.stderr || e.stdout || e.message}`, { cause: error });
    }
    await clusterOk();
  } catch (error) {
    await killAll(servers, dir);
    throw error;
  }
  return {
    url: `redis-cluster://${ports
      .slice(0, 2)
      .map((port) => `127.0.0.1:${port}`)
      .join(',')}`,
    ports,
    async flushAll() {
      await Promise.all(ports.map((port) => redisCall(port, 'FLUSHALL')));
    },
    async keyCounts() {
      const counts = await Promise.all(ports.map(async (port) => Number(await redisCall(port, 'DBSIZE'))));
      return Object.fromEntries(ports.map((port, i) => [port, counts[i]!]));
    },
    async stop() {
      await Promise.all(servers.map((server) => server.kill('SIGTERM')));
    },
    async stopNode(port) {
      const index = ports.indexOf(port);
      if (index === -1) throw new Error(`no Cluster node on port ${port}`);
      await servers[index]!.kill('SIGTERM');
    },
    async start() {
      for (const server of servers) if (!server.alive) server.spawn();
      await Promise.all(servers.map((server, i) => server.waitUntil(() => redisPing(ports[i]!))));
      await clusterOk();
    },
    close: () => killAll(servers, dir),
  };
}

export interface PrivateRedisSentinel {
  /** `redis-sentinel://127.0.0.1:<s1>,127.0.0.1:<s2>/<masterName>`. */
  url: string;
  masterName: string;
  sentinelPorts: number[];
  /** Client ports of the data servers: the first master, then the replica (if any). */
  dataPorts: number[];
  /** The port every Sentinel names as master now (throws while they disagree). */
  currentMasterPort(): Promise<number>;
  /**
   * `SENTINEL FAILOVER` on the first Sentinel, then waits until every Sentinel names the replica as
   * master and it answers as one. Needs the replica.
   */
  failover(timeoutMs?: number): Promise<{ from: number; to: number }>;
  close(): Promise<void>;
}

/**
 * A Sentinel group of our own: a master, optionally one replica, and `sentinels` (default 2)
 * `redis-server --sentinel` processes monitoring it with quorum 1, on free loopback ports.
 * Resolves once the replica is in sync and every Sentinel knows it (so that a failover can pick it).
 */
export async function startPrivateRedisSentinel(
  options: { sentinels?: number; replica?: boolean; masterName?: string } = {},
): Promise<PrivateRedisSentinel> {
  const sentinelCount = options.sentinels ?? 2;
  const withReplica = options.replica ?? true;
  const masterName = options.masterName ?? 'mymaster';
  const dir = privateFolder('/tmp/dingtalk-oidc-redis-sentinel-');
  const servers: ServerProcess[] = [];
  const dataPorts: number[] = [];
  const sentinelPorts: number[] = [];

  const dataServer = async (role: string, extra: string[]): Promise<number> => {
    const port = await freePort();
    const serverDir = path.join(dir, String(port));
    mkdirSync(serverDir, { recursive: true });
    const server = redisServerProcess(`redis-server (${role} ${port})`, [...privateRedisArgs(port, serverDir), ...extra]);
    servers.push(server);
    server.spawn();
    await server.waitUntil(() => redisPing(port));
    dataPorts.push(port);
    return port;
  };

  const sentinelsNaming = async (): Promise<number[]> =>
    Promise.all(
      sentinelPorts.map(async (port) => {
        const [, masterPort] = (await redisCall(port, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName)) as [string, string];
        return Number(masterPort);
      }),
    );

  try {
    // Either may be master after a failover; without the delay a full sync waits 5 s for more replicas.
    const syncNow = ['--repl-diskless-sync-delay', '0'];
    const masterPort = await dataServer('master', syncNow);
    if (withReplica) {
      const replicaPort = await dataServer('replica', [...syncNow, '--replicaof', '127.0.0.1', String(masterPort)]);
      await pollUntil(
        'the replica did not sync with its master',
        async () => (await redisInfo(replicaPort, 'replication')).master_link_status === 'up',
        10_000,
      );
    }
    for (let i = 0; i < sentinelCount; i += 1) {
      const port = await freePort();
      const conf = path.join(dir, `sentinel-${port}.conf`);
      // Sentinel rewrites its configuration file: it must be a writable file of its own.
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          'daemonize no',
          `dir ${dir}`,
          'loglevel warning',
          `sentinel monitor ${masterName} 127.0.0.1 ${masterPort} 1`,
          `sentinel down-after-milliseconds ${masterName} 1000`,
          `sentinel failover-timeout ${masterName} 3000`,
          '',
        ].join('\n'),
      );
      const sentinel = redisServerProcess(`redis-sentinel (${port})`, [conf, '--sentinel']);
      servers.push(sentinel);
      sentinel.spawn();
      sentinelPorts.push(port);
    }
    await Promise.all(servers.slice(dataPorts.length).map((sentinel, i) => sentinel.waitUntil(() => redisPing(sentinelPorts[i]!))));
    await pollUntil(
      'the Sentinels did not all name the master and know the replica',
      async () => {
        const named = await sentinelsNaming();
        if (!named.every((port) => port === masterPort)) return false;
        if (!withReplica) return true;
        const replicas = await Promise.all(
          sentinelPorts.map(async (port) => (await redisCall(port, 'SENTINEL', 'REPLICAS', masterName)) as string[][]),
        );
        return replicas.every((list) =>
          list.some((flat) => {
            const fields = Object.fromEntries(flat.flatMap((value, i) => (i % 2 === 0 ? [[value, flat[i + 1]]] : [])));
            return fields.flags === 'slave' && fields['master-link-status'] === 'ok';
          }),
        );
      },
      10_000,
    );
  } catch (error) {
    await killAll(servers, dir);
    throw error;
  }

  const currentMasterPort = async (): Promise<number> => {
    const named = await sentinelsNaming();
    if (new Set(named).size !== 1) throw new Error(`the Sentinels disagree on the master: ${named.join(', ')}`);
    return named[0]!;
  };

  return {
    url: `redis-sentinel://${sentinelPorts.map((port) => `127.0.0.1:${port}`).join(',')}/${encodeURIComponent(masterName)}`,
    masterName,
    sentinelPorts,
    dataPorts,
    currentMasterPort,
    async failover(timeoutMs = 15_000) {
      if (!withReplica) throw new Error('a failover needs the replica: startPrivateRedisSentinel({ replica: true })');
      const from = await currentMasterPort();
      const to = dataPorts.find((port) => port !== from)!;
      await redisCall(sentinelPorts[0]!, 'SENTINEL', 'FAILOVER', masterName);
      await pollUntil(
        `the Sentinels did not switch the master from ${from} to ${to}`,
        async () => (await sentinelsNaming()).every((port) => port === to) && (await redisInfo(to, 'replication')).role === 'master',
        timeoutMs,
      );
      return { from, to };
    },
    close: () => killAll(servers, dir),
  };
}
