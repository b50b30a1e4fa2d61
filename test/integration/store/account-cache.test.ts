/**
 * The per-process account cache on real PostgreSQL: a write that invalidates an account while it
 * is being read must not fail the read (lru-cache aborts it), and the reader gets the new row.
 * Under load (concurrent logins of one person) this used to answer 500 at /auth and /token.
 */
import { expect } from 'chai';
import { createDatabase, type Database } from '../../../src/db/sequelize.js';
import { createAccountCache, watchAccountChanges } from '../../../src/oidc/account-cache.js';
import { resetState, TEST_DATABASE_URL } from '../../helpers/bootstrap.js';

describe('account cache', function () {
  let db: Database;

  before(async function () {
    await resetState();
    db = createDatabase(TEST_DATABASE_URL, { poolMax: 4 });
  });

  after(async function () {
    await db?.close();
  });

  it('answers a read that a write invalidated mid-flight with the written account', async function () {
    const cache = createAccountCache(db.models, { ttlMs: 60_000 });
    const account = await db.models.Account.create({ unionId: 'cache-race-1', name: '旧名字' });
    for (let i = 0; i < 20; i += 1) {
      const name = `名字 ${i}`;
      await db.models.Account.update({ name }, { where: { id: account.id } });
      const reading = cache.get(account.id); // the read is in flight now…
      cache.invalidate(account.id); // …and the write's invalidation aborts it
      const [snapshot, after] = await Promise.all([reading, cache.get(account.id)]);
      expect(snapshot, 'the aborted read still answers').to.not.equal(undefined);
      expect(after?.account.name).to.equal(name);
    }
  });

  it('drops the copy on every committed write (hooks), so the next read sees the write', async function () {
    const cache = createAccountCache(db.models, { ttlMs: 60_000 });
    watchAccountChanges(db.models, (change) => cache.invalidate(change));
    const account = await db.models.Account.create({ unionId: 'cache-race-2', name: 'before' });
    expect((await cache.get(account.id))?.account.name).to.equal('before');
    await db.sequelize.transaction(async (transaction) => {
      await account.update({ name: 'after' }, { transaction });
    });
    expect((await cache.get(account.id))?.account.name).to.equal('after');
    expect(await cache.get('00000000-0000-4000-8000-000000000000')).to.equal(undefined);
  });
});
