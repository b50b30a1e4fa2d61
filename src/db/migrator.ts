import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { QueryTypes, type Sequelize } from 'sequelize';
import type { Umzug } from 'umzug';
import { createDatabase } from './sequelize.js';
import type { MigrationContext } from '../../migrations/types.js';

// migrations/ sits beside src/ both in the source tree and in dist/.
const MIGRATIONS_DIR = path.resolve(import.meta.dirname, '../../migrations');
const MIGRATIONS_TABLE = 'schema_migrations';

/** A migration's name: its file name without the extension (the same migration from .ts and from .js). */
const migrationName = (fileName: string): string => fileName.replace(/\.[cm]?[jt]s$/, '');

/**
 * Forward-only migrations from the top-level migrations/ folder. A migration's name drops its
 * extension, so the same file run from source (.ts) and from dist (.js) counts as one.
 * Concurrent runs (several replicas starting) are serialised with a Postgres advisory lock.
 *
 * umzug is imported here, when migrations run, not with this module: its index loads its command
 * line too (@rushstack/ts-command-line and the rest, about 16 MiB of a server's memory), and a
 * server only asks what is pending (`pendingMigrations`, which does without it).
 */
export async function createMigrator(sequelize: Sequelize): Promise<Umzug<MigrationContext>> {
  const { SequelizeStorage, Umzug } = await import('umzug');
  return new Umzug<MigrationContext>({
    migrations: {
      glob: ['*.{js,ts}', { cwd: MIGRATIONS_DIR, ignore: ['**/*.d.ts', 'types.{js,ts}'] }],
      resolve: (params) => ({
        ...Umzug.defaultResolver(params),
        name: migrationName(params.name),
      }),
    },
    context: { queryInterface: sequelize.getQueryInterface() },
    storage: new SequelizeStorage({ sequelize, tableName: MIGRATIONS_TABLE }),
    logger: undefined,
  });
}

const LOCK_ID = 7_240_117; // any constant shared by every replica of this product

/**
 * Apply every pending migration; returns the names applied (empty when up to date). The lock is
 * held on a connection of its own, outside the pool (which may have a single connection) and
 * without a statement timeout (waiting for another replica's migration may take a while).
 */
export async function migrate(database: { url: string; sequelize: Sequelize }): Promise<string[]> {
  const lock = new pg.Client({ connectionString: database.url, statement_timeout: 0, connectionTimeoutMillis: 5_000 });
  await lock.connect();
  // Migrations run on connections of their own without the request deadlines.
  const own = createDatabase(database.url, { poolMax: 2, timeouts: false });
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [LOCK_ID]);
    const applied = await (await createMigrator(own.sequelize)).up();
    return applied.map((m) => m.name);
  } finally {
    await lock.query('SELECT pg_advisory_unlock($1)', [LOCK_ID]).catch(() => undefined);
    await lock.end();
    await own.close();
  }
}

/**
 * Names of migrations not yet applied, in order (used by readiness checks and the start's check),
 * without umzug: the migration files as `createMigrator` finds them (its glob, `*.{js,ts}` but not
 * `*.d.ts` nor `types.*`, sorted, the extension dropped) less the names in the table umzug's
 * SequelizeStorage writes. A database without that table has every migration pending (umzug would
 * create the empty table first; a check does not). test/integration/db/pending-migrations.test.ts
 * compares this with umzug's own `pending()`.
 */
export async function pendingMigrations(sequelize: Sequelize): Promise<string[]> {
  const [files, applied] = await Promise.all([migrationFiles(), appliedMigrations(sequelize)]);
  return files.map(migrationName).filter((name) => !applied.has(name));
}

async function migrationFiles(): Promise<string[]> {
  const entries = (await readdir(MIGRATIONS_DIR, { withFileTypes: true })).filter(
    (entry) =>
      !entry.name.startsWith('.') &&
      /\.(js|ts)$/.test(entry.name) &&
      !entry.name.endsWith('.d.ts') &&
      entry.name !== 'types.js' &&
      entry.name !== 'types.ts',
  );
  // Files only, a link to a file included (the glob follows links).
  const isFile = await Promise.all(
    entries.map(
      async (entry) =>
        entry.isFile() ||
        (entry.isSymbolicLink() && (await stat(path.join(MIGRATIONS_DIR, entry.name)).catch(() => undefined))?.isFile() === true),
    ),
  );
  return entries
    .filter((_, i) => isFile[i])
    .map((entry) => entry.name)
    .sort();
}

async function appliedMigrations(sequelize: Sequelize): Promise<Set<string>> {
  try {
    const rows = await sequelize.query<{ name: string }>(`SELECT name FROM ${MIGRATIONS_TABLE}`, { type: QueryTypes.SELECT });
    return new Set(rows.map((row) => row.name));
  } catch (error) {
    if ((error as { original?: { code?: string } }).original?.code === '42P01') return new Set(); // undefined_table
    throw error;
  }
}
