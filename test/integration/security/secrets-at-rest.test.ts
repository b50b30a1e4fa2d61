import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { prepareServices, resetState, startTestServer, testConfig, TEST_DATABASE_URL, type TestServer } from '../../helpers/bootstrap.js';
import { createDatabase } from '../../../src/db/sequelize.js';
import { createKeyStore } from '../../../src/oidc/keys.js';
import { createSecretBox, isBound } from '../../../src/oidc/secret-box.js';
import { sealV1 } from '../../helpers/sealed-v1.js';

describe('security: secrets at rest are bound to their row (real PostgreSQL and Redis)', function () {
  const secret = testConfig().secrets.keyEncryption;
  const clientSecret = randomBytes(32).toString('base64url');
  let server: TestServer | undefined;

  before(async function () {
    await resetState();
    await prepareServices();
    // The database as an earlier version left it: a signing key and a client secret sealed as v1.
    const db = createDatabase(TEST_DATABASE_URL, { poolMax: 1 });
    try {
      const keys = createKeyStore(db.sequelize, db.models, createSecretBox(secret, 'signing-keys'));
      await keys.ensure();
      for (const row of await db.models.SigningKey.findAll()) {
        const plain = createSecretBox(secret, 'signing-keys').open(row.privateJwkEncrypted, row.kid);
        await row.update({ privateJwkEncrypted: sealV1(secret, 'signing-keys', plain) });
      }
      await db.models.ClientRecord.create({
        clientId: 'legacy-worker',
        name: 'Legacy worker',
        metadata: {
          client_id: 'legacy-worker',
          grant_types: ['client_credentials'],
          response_types: [],
          redirect_uris: [],
          token_endpoint_auth_method: 'client_secret_basic',
        },
        secretEncrypted: sealV1(secret, 'client-secrets', clientSecret),
        firstParty: false,
      });
    } finally {
      await db.close();
    }
    server = await startTestServer();
  });

  after(async function () {
    await server?.close();
  });

  it('reads the rows sealed before binding: the old client secret and signing keys still work', async function () {
    const config = await oidc.discovery(new URL(server!.issuer), 'legacy-worker', clientSecret, oidc.ClientSecretBasic(clientSecret), {
      execute: [oidc.allowInsecureRequests],
    });
    const tokens = await oidc.clientCredentialsGrant(config);
    expect(tokens.access_token).to.be.a('string');
  });

  it('re-sealed them at start, bound to their rows', async function () {
    const { ClientRecord: Client, SigningKey } = server!.services.db.models;
    const client = await Client.findByPk('legacy-worker');
    expect(isBound(client!.secretEncrypted!)).to.equal(true);
    for (const key of await SigningKey.findAll()) expect(isBound(key.privateJwkEncrypted), key.kid).to.equal(true);
  });

  it('a secret copied into another client’s row does not decrypt there', async function () {
    const { clientStore, db } = server!.services;
    const other = await clientStore.add({ name: 'Other', grantTypes: ['client_credentials'] });
    const legacy = await db.models.ClientRecord.findByPk('legacy-worker');
    await db.models.ClientRecord.update({ secretEncrypted: legacy!.secretEncrypted }, { where: { clientId: other.clientId } });
    const error = await clientStore.providerMetadata(other.clientId).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).to.match(/cannot decrypt a stored secret/);
  });
});
