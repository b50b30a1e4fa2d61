import { expect } from 'chai';
import { resetState, startTestServer, type TestServer } from '../../helpers/bootstrap.js';

/** A browser-like Accept header, as some HTTP client libraries send by default. */
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

async function post(
  server: TestServer,
  path: string,
  body: Record<string, string>,
  options: { auth?: { clientId: string; clientSecret: string }; accept?: string } = {},
): Promise<{ status: number; type: string; text: string }> {
  const response = await fetch(`${server.issuer}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(options.accept ? { accept: options.accept } : {}),
      ...(options.auth
        ? { authorization: `Basic ${Buffer.from(`${options.auth.clientId}:${options.auth.clientSecret}`).toString('base64')}` }
        : {}),
    },
    body: new URLSearchParams(body),
  });
  return { status: response.status, type: response.headers.get('content-type') ?? '', text: await response.text() };
}

describe('security: token, introspection and revocation answers', function () {
  let server: TestServer;
  let mine: { clientId: string; clientSecret: string };
  let other: { clientId: string; clientSecret: string };

  before(async function () {
    await resetState();
    server = await startTestServer();
    const { clientStore } = server.services;
    mine = (await clientStore.add({ name: 'Mine', grantTypes: ['client_credentials'] })) as typeof mine;
    other = (await clientStore.add({ name: 'Other', grantTypes: ['client_credentials'] })) as typeof other;
  });

  after(async function () {
    await server?.close();
  });

  async function tokenOf(client: { clientId: string; clientSecret: string }): Promise<string> {
    const answer = await post(server, '/token', { grant_type: 'client_credentials' }, { auth: client });
    expect(answer.status, answer.text).to.equal(200);
    return (JSON.parse(answer.text) as { access_token: string }).access_token;
  }

  describe('revocation (RFC 7009 §2.2)', function () {
    it('answers another client’s valid token exactly as a token that does not exist, and leaves it valid', async function () {
      const theirs = await tokenOf(other);
      const forOther = await post(server, '/token/revocation', { token: theirs }, { auth: mine });
      const forNothing = await post(server, '/token/revocation', { token: 'x'.repeat(43) }, { auth: mine });
      expect({ status: forOther.status, text: forOther.text }).to.deep.equal({ status: forNothing.status, text: forNothing.text });
      expect(forOther.status).to.equal(200);
      const still = await post(server, '/token/introspection', { token: theirs }, { auth: other });
      expect(JSON.parse(still.text)).to.include({ active: true });
    });

    it('still revokes the caller’s own token', async function () {
      const own = await tokenOf(mine);
      expect((await post(server, '/token/revocation', { token: own }, { auth: mine })).status).to.equal(200);
      const after = await post(server, '/token/introspection', { token: own }, { auth: mine });
      expect(JSON.parse(after.text)).to.deep.equal({ active: false });
    });
  });

  describe('errors are JSON whatever Accept says (RFC 6749 §5.2, RFC 7662 §2.3)', function () {
    it('/token answers a bad grant with JSON to a browser-like Accept', async function () {
      const answer = await post(
        server,
        '/token',
        { grant_type: 'authorization_code', code: 'nope', redirect_uri: 'https://x.test/cb' },
        { auth: mine, accept: BROWSER_ACCEPT },
      );
      expect(answer.status).to.equal(400);
      expect(answer.type).to.match(/^application\/json/);
      expect(JSON.parse(answer.text)).to.have.property('error').that.is.a('string');
    });

    it('/token answers a wrong client secret with JSON 401 to Accept: text/html', async function () {
      const answer = await post(
        server,
        '/token',
        { grant_type: 'client_credentials' },
        { auth: { ...mine, clientSecret: 'wrong' }, accept: 'text/html' },
      );
      expect(answer.status).to.equal(401);
      expect(answer.type).to.match(/^application\/json/);
      expect(JSON.parse(answer.text)).to.include({ error: 'invalid_client' });
    });

    it('/token/introspection answers a missing client authentication with JSON to Accept: text/html', async function () {
      const answer = await post(server, '/token/introspection', { token: 'whatever' }, { accept: 'text/html' });
      expect(answer.status).to.equal(401);
      expect(answer.type).to.match(/^application\/json/);
      expect(JSON.parse(answer.text)).to.include({ error: 'invalid_client' });
    });

    it('the authorization endpoint still shows a page to a browser', async function () {
      const response = await fetch(`${server.issuer}/auth?client_id=nobody&response_type=code`, { headers: { accept: BROWSER_ACCEPT } });
      expect(response.status).to.equal(400);
      expect(response.headers.get('content-type')).to.match(/^text\/html/);
    });
  });
});
