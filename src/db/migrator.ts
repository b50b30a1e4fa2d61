import path from 'node:path';
import type { Sequelize } from 'sequelize';
import { SequelizeStorage, Umzug } from 'umzug';
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

/** Apply every pending migration; returns the names applied (empty when up to date). */
export async function migrate(sequelize: Sequelize): Promise<string[]> {
  const connection = (await sequelize.connectionManager.getConnection({ type: 'write' })) as {
    query(sql: string): Promise<unknown>;
  };
  try {
    await connection.query(`SELECT pg_advisory_lock(${LOCK_ID})`);
    const applied = await createMigrator(sequelize).up();
    return applied.map((m) => m.name);
  } finally {
    await connection.query(`SELECT pg_advisory_unlock(${LOCK_ID})`).catch(() => undefined);
    sequelize.connectionManager.releaseConnection(connection as never);
  }
}

/** Names of migrations not yet applied (used by readiness checks). */
export async function pendingMigrations(sequelize: Sequelize): Promise<string[]> {
  return (await createMigrator(sequelize).pending()).map((m) => m.name);
}
