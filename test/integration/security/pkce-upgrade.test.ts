import { expect } from 'chai';
import { prepareServices, resetState, TEST_DATABASE_URL } from '../../helpers/bootstrap.js';
import { createDatabase } from '../../../src/db/sequelize.js';
import { up } from '../../../migrations/20261206-0102-clients-keep-pkce-optional.js';

const app = (clientId: string, extra: Record<string, unknown>) => ({
  clientId,
  name: clientId,
  metadata: {
    client_id: clientId,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: ['https://app.example/cb'],
    ...extra,
  },
  firstParty: false,
});

describe('security: PKCE required by default, and an upgrade signs nobody out (real PostgreSQL)', function () {
  it('keeps confidential clients registered before the change on the rule they were registered under; public and opted clients untouched', async function () {
    await resetState();
    await prepareServices();
    const db = createDatabase(TEST_DATABASE_URL, { poolMax: 1 });
    try {
      const { ClientRecord } = db.models;
      await ClientRecord.create(app('old-basic', { token_endpoint_auth_method: 'client_secret_basic' }));
      await ClientRecord.create(app('old-default', {}));
      await ClientRecord.create(app('old-public', { token_endpoint_auth_method: 'none' }));
      await ClientRecord.create(app('opted-in', { token_endpoint_auth_method: 'client_secret_basic', require_pkce: true }));
      await up({ context: { queryInterface: db.sequelize.getQueryInterface() } });
      const pkce = async (id: string) => (await ClientRecord.findByPk(id))!.metadata.require_pkce;
      expect(await pkce('old-basic')).to.equal(false);
      expect(await pkce('old-default')).to.equal(false);
      expect(await pkce('old-public')).to.equal(undefined);
      expect(await pkce('opted-in')).to.equal(true);
    } finally {
      await db.sequelize.query("DELETE FROM clients WHERE client_id IN ('old-basic', 'old-default', 'old-public', 'opted-in')");
      await db.close();
    }
  });
});
