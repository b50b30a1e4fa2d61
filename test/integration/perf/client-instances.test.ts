import { expect } from 'chai';
import { resetState, startTestServer, type TestServer } from '../../helpers/bootstrap.js';

describe('oidc-provider client instances, remembered per metadata (real Postgres and Redis)', function () {
  let server: TestServer;

  before(async function () {
    await resetState();
    server = await startTestServer();
  });

  after(async function () {
    await server?.close();
  });

  it('hands back the same instance while the metadata is unchanged, and a new one once the client changes', async function () {
    const { clientStore, holder } = server.services;
    const { clientId } = await clientStore.add({ name: 'Instances', grantTypes: ['client_credentials'] });
    const Client = holder.current().Client;

    const first = await Client.find(clientId);
    expect(first?.clientId).to.equal(clientId);
    expect(await Client.find(clientId)).to.equal(first);

    await clientStore.update(clientId, { name: 'Instances, renamed', grantTypes: ['client_credentials'] });
    server.services.invalidateClients(); // what the change notification does on every replica
    const changed = await Client.find(clientId);
    expect(changed).to.not.equal(first);
    expect(changed?.clientName).to.equal('Instances, renamed');
    expect(await Client.find(clientId)).to.equal(changed);
  });

  it('finds nothing for an unknown or empty id', async function () {
    const Client = server.services.holder.current().Client;
    expect(await Client.find('no-such-client')).to.equal(undefined);
    expect(await Client.find('')).to.equal(undefined);
  });
});
