import path from 'node:path';
import pg from 'pg';
import type { Sequelize } from 'sequelize';
import { SequelizeStorage, Umzug } from 'umzug';
import { createDatabase } from './sequelize.js';
import type { MigrationContext } from '../../migrations/types.js';

// migrations/ sits beside src/ both in the source tree and in dist/.
const MIGRATIONS_DIR = path.resolve(import.meta.dirname, '../../migrations');

/**
 * Forward-only migrations from the top-level migrations/ folder. A migration's name drops its
 * extension, so the same file run from source (.ts) and from dist (.js) counts as one.
 * Concurrent runs (several replicas starting) are serialised with a Postgres advisory lock.
 */
export function createMigrator(sequelize: Sequelize): Umzug<MigrationContext> {
  return new Umzug<MigrationContext>({
    migrations: {
      glob: ['*.{js,ts}', { cwd: MIGRATIONS_DIR, ignore: ['**/*.d.ts', 'types.{js,ts}'] }],
      resolve: (params) => ({
        ...Umzug.defaultResolver(params),
        name: params.name.replace(/\.[cm]?[jt]s$/, ''),
      }),
    },
    context: { queryInterface: sequelize.getQueryInterface() },
    storage: new SequelizeStorage({ sequelize, tableName: 'schema_migrations' }),
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
    const applied = await createMigrator(own.sequelize).up();
    return applied.map((m) => m.name);
  } finally {
    await lock.query('SELECT pg_advisory_unlock($1)', [LOCK_ID]).catch(() => undefined);
    await lock.end();
    await own.close();
  }
}

/** Names of migrations not yet applied (used by readiness checks). */
export async function pendingMigrations(sequelize: Sequelize): Promise<string[]> {
  return (await createMigrator(sequelize).pending()).map((m) => m.name);
}
