/**
 * `pendingMigrations` (readiness, the start's check) lists the migration files and reads the
 * applied names itself, without umzug; it must give what umzug's own `pending()` gives, on a
 * database without the table, with some migrations applied, and with all of them.
 */
import { expect } from 'chai';
import { createMigrator, pendingMigrations } from '../../../src/db/migrator.js';
import { createDatabase, type Database } from '../../../src/db/sequelize.js';
import { freshDatabase } from '../../helpers/bootstrap.js';

describe('pending migrations without umzug', function () {
  let db: Database;

  before(async function () {
    db = createDatabase(await freshDatabase('pending'), { poolMax: 2, timeouts: false });
  });

  after(async function () {
    await db?.close();
  });

  const umzugPending = async (): Promise<string[]> => (await (await createMigrator(db.sequelize)).pending()).map((m) => m.name);

  it('matches umzug: no table, some applied, all applied', async function () {
    // No schema_migrations table yet: every migration is pending (asked before umzug creates the table).
    const withoutTable = await pendingMigrations(db.sequelize);
    const all = await umzugPending();
    expect(all.length).to.be.greaterThan(3);
    expect(withoutTable).to.deep.equal(all);
    expect(await pendingMigrations(db.sequelize)).to.deep.equal(all); // the empty table umzug created

    // Some applied, the rest not; an applied name without a file (a removed migration) changes nothing.
    await (await createMigrator(db.sequelize)).up({ to: all[2] });
    await db.sequelize.query(`INSERT INTO schema_migrations (name) VALUES ('19990101-0001-gone')`);
    const some = await umzugPending();
    expect(some).to.deep.equal(all.slice(3));
    expect(await pendingMigrations(db.sequelize)).to.deep.equal(some);

    await (await createMigrator(db.sequelize)).up();
    expect(await umzugPending()).to.deep.equal([]);
    expect(await pendingMigrations(db.sequelize)).to.deep.equal([]);
  });
});
