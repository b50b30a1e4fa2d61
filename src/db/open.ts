import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { type EmbeddedDatabase, startEmbeddedPostgres } from './embedded.js';
import { migrate, pendingMigrations } from './migrator.js';
import { createDatabase, type Database } from './sequelize.js';

/** Open the database (the embedded one in development, without DATABASE_URL) and check it answers. */
export async function openDatabase(config: Config, logger: Logger): Promise<{ db: Database; embedded?: EmbeddedDatabase }> {
  let embedded: EmbeddedDatabase | undefined;
  let url = config.database.url;
  if (!url) {
    embedded = await startEmbeddedPostgres(config.database.embeddedDir, config.database.embeddedPort, logger);
    url = embedded.url;
  }
  const db = createDatabase(url, { poolMax: config.database.poolMax });
  try {
    await db.sequelize.authenticate();
  } catch (error) {
    await db.close().catch(() => undefined);
    await embedded?.stop();
    throw new Error(`cannot connect to PostgreSQL (DATABASE_URL): ${(error as Error).message}`, { cause: error });
  }
  return { db, embedded };
}

/**
 * Apply pending migrations when allowed (database.migrateOnStart, or the embedded development
 * database), else refuse a database that needs them. `checkOnly`: never migrate (management commands
 * other than `migrate`).
 */
export async function prepareSchema(db: Database, config: Config, logger: Logger, options: { checkOnly?: boolean } = {}): Promise<void> {
  if (!options.checkOnly && (config.database.migrateOnStart || !config.database.url)) {
    const applied = await migrate(db);
    if (applied.length > 0) logger.info({ applied }, 'database migrated');
    return;
  }
  const pending = await pendingMigrations(db.sequelize);
  if (pending.length > 0) {
    throw new Error(`the database needs migrating (${pending.length} pending): run \`dingtalk-oidc migrate\` first`);
  }
}
