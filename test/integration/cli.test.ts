import { expect } from 'chai';
import { cli } from '../helpers/cli.js';
import { resetState, startTestServer } from '../helpers/bootstrap.js';

describe('command line', function () {
  this.timeout(60_000);

  before(async function () {
    await resetState();
  });

  it('migrate is idempotent', async function () {
    const result = await cli(['migrate']);
    expect(result.code).to.equal(0);
    expect(result.stdout).to.contain('database is up to date');
  });

  it('lists every configuration problem and exits with code 2', async function () {
    const result = await cli(['migrate'], { NODE_ENV: 'production', PORT: 'x', DATABASE_URL: '' });
    expect(result.code).to.equal(2);
    expect(result.stderr).to.contain('Configuration is invalid');
    for (const name of ['PORT', 'DATABASE_URL', 'DINGTALK_CLIENT_ID', 'KEY_ENCRYPTION_SECRET', 'COOKIE_SECRETS'])
      expect(result.stderr).to.contain(name);
    expect(result.stderr).to.not.match(/\n\s+at /);
  });

  it('registers a client whose printed secret works against the running issuer', async function () {
    const added = await cli(['clients', 'add', '--name', 'Billing job', '--grant', 'client_credentials', '--json']);
    expect(added.code, added.stderr).to.equal(0);
    const { client_id: clientId, client_secret: secret } = JSON.parse(added.stdout) as Record<string, string>;
    expect(secret).to.have.length.of.at.least(43);

    const server = await startTestServer();
    try {
      const basic = await fetch(`${server.issuer}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
        },
        body: 'grant_type=client_credentials',
      });
      expect(basic.status).to.equal(200);
    } finally {
      await server.close();
    }

    const listed = await cli(['clients', 'list', '--json']);
    const clients = JSON.parse(listed.stdout) as { clientId: string; metadata: Record<string, unknown> }[];
    const mine = clients.find((c) => c.clientId === clientId)!;
    expect(mine.metadata.grant_types).to.deep.equal(['client_credentials']);
    expect(listed.stdout).to.not.contain(secret);

    const rotated = await cli(['clients', 'rotate-secret', clientId!, '--json']);
    expect(JSON.parse(rotated.stdout).client_secret).to.be.a('string').and.not.equal(secret);
    expect((await cli(['clients', 'remove', clientId!])).code).to.equal(0);
    expect((await cli(['clients', 'show', clientId!])).code).to.equal(1);
  });

  it('refuses invalid client metadata with a readable message', async function () {
    const result = await cli(['clients', 'add', '--name', 'Bad', '--redirect-uri', 'not a url']);
    expect(result.code).to.equal(1);
    expect(result.stderr).to.match(/^error: invalid client: .*redirect_uris/m);
  });

  it('manages resource servers and keys', async function () {
    expect((await cli(['resource-servers', 'add', 'https://api.example.test', '--scope', 'read write', '--alg', 'ES256'])).code).to.equal(
      0,
    );
    const servers = JSON.parse((await cli(['resource-servers', 'list', '--json'])).stdout) as { identifier: string; scopes: string[] }[];
    expect(servers.find((s) => s.identifier === 'https://api.example.test')!.scopes).to.deep.equal(['read', 'write']);
    expect((await cli(['resource-servers', 'add', 'no-uri'])).stderr).to.contain('absolute URI');

    const before = JSON.parse((await cli(['keys', 'list', '--json'])).stdout) as { kid: string; current: boolean; alg: string }[];
    const rotated = await cli(['keys', 'rotate', '--alg', 'RS256', '--now']);
    expect(rotated.stdout).to.match(/new current RS256 key: /);
    const pending = await cli(['keys', 'rotate', '--alg', 'ES256']);
    expect(pending.stdout).to.match(/published now, signing from /);
    const after = JSON.parse((await cli(['keys', 'list', '--json'])).stdout) as { kid: string; current: boolean; alg: string }[];
    expect(after).to.have.length(before.length + 2);
    const oldRs = before.find((k) => k.alg === 'RS256')!;
    expect(after.find((k) => k.kid === oldRs.kid)!.current).to.equal(false);
    const retired = await cli(['keys', 'retire', oldRs.kid]);
    expect(retired.stdout, `${retired.code}: ${retired.stderr}`).to.contain('retired');
  });

  it('reaches running servers at once: a rotated secret and a new key, without waiting for their caches', async function () {
    const server = await startTestServer(); // default cache times: 30 s for clients, 60 s for keys
    try {
      const added = JSON.parse(
        (await cli(['clients', 'add', '--name', 'Hot', '--grant', 'client_credentials', '--json'])).stdout,
      ) as Record<string, string>;
      const token = (secret: string) =>
        fetch(`${server.issuer}/token`, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            authorization: `Basic ${Buffer.from(`${added.client_id}:${secret}`).toString('base64')}`,
          },
          body: 'grant_type=client_credentials',
        });
      expect((await token(added.client_secret!)).status).to.equal(200); // now cached by the server
      await cli(['clients', 'rotate-secret', added.client_id!, '--json']);
      let status = 0;
      for (let i = 0; i < 20 && status !== 401; i += 1) {
        status = (await token(added.client_secret!)).status;
        if (status !== 401) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(status, 'the old secret stops working well before the 30 s cache time').to.equal(401);

      const rotated = await cli(['keys', 'rotate', '--alg', 'ES256', '--now']);
      const kid = /key: (\S+)/.exec(rotated.stdout)![1];
      let kids: string[] = [];
      for (let i = 0; i < 20 && !kids.includes(kid!); i += 1) {
        kids = ((await (await fetch(`${server.issuer}/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
        if (!kids.includes(kid!)) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(kids).to.include(kid);
    } finally {
      await server.close();
    }
  });
});
