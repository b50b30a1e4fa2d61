import type { Config } from '../config/schema.js';
import { migrate } from '../db/migrator.js';
import { createLogger } from '../log.js';
import { openDatabase } from '../db/open.js';

/** `migrate`: apply pending migrations; running it again applies nothing. */
export async function runMigrate(config: Config): Promise<number> {
  const { db, embedded } = await openDatabase(config, createLogger({ logLevel: 'warn' }));
  try {
    const applied = await migrate(db);
    console.log(applied.length > 0 ? `applied: ${applied.join(', ')}` : 'database is up to date');
    return 0;
  } finally {
    await db.close();
    await embedded?.stop();
  }
}
