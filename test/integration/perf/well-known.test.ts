import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { resetState, startTestServer, type TestServer } from '../../helpers/bootstrap.js';

/** The same request, answered by the current oidc-provider alone (no app, no copies in front). */
async function fromProvider(
  server: TestServer,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; type: string | null }> {
  const handle = server.services.holder.current().callback();
  // Koa answers its own errors (ctx.onerror), so the request's promise never rejects.
  const bare = http.createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', () => resolve()));
  try {
    const port = (bare.address() as AddressInfo).port;
    // The Host of our server (fetch would send the bare server's): oidc-provider builds endpoint
    // URLs from the request's origin.
    return await new Promise((resolve, reject) => {
      const request = http.get(
        { host: '127.0.0.1', port, path, headers: { ...headers, host: new URL(server.issuer).host } },
        (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body += chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body, type: response.headers['content-type'] ?? null }));
        },
      );
      request.on('error', reject);
    });
  } finally {
    await new Promise<void>((resolve) => bare.close(() => resolve()));
  }
}

describe('discovery and JWKS served from memory (real Postgres and Redis)', function () {
  let server: TestServer;

  before(async function () {
    await resetState();
    server = await startTestServer();
  });

  after(async function () {
    await server?.close();
  });

  for (const path of ['/.well-known/openid-configuration', '/jwks']) {
    it(`serves ${path} exactly as oidc-provider does, the first time and from memory`, async function () {
      const expected = await fromProvider(server, path);
      expect(expected.status).to.equal(200);
      const first = await fetch(`${server.issuer}${path}`);
      const second = await fetch(`${server.issuer}${path}`);
      for (const response of [first, second]) {
        expect(response.status).to.equal(200);
        expect(response.headers.get('content-type')).to.equal(expected.type);
        expect(await response.text()).to.equal(expected.body);
        expect(response.headers.get('etag')).to.match(/^"[A-Za-z0-9_-]{27}"$/);
        expect(response.headers.get('cache-control')).to.match(/^public, max-age=\d+$/);
        expect(response.headers.get('access-control-allow-origin')).to.equal('*');
        expect(response.headers.get('x-content-type-options')).to.equal('nosniff');
      }
      expect(second.headers.get('etag')).to.equal(first.headers.get('etag'));
    });

    it(`answers 304 to If-None-Match on ${path}, and echoes the Origin like oidc-provider`, async function () {
      const { headers } = await fetch(`${server.issuer}${path}`);
      const etag = headers.get('etag')!;
      const again = await fetch(`${server.issuer}${path}`, {
        headers: { 'if-none-match': `"other", ${etag}`, origin: 'https://app.example.test' },
      });
      expect(again.status).to.equal(304);
      expect(again.headers.get('etag')).to.equal(etag);
      expect(again.headers.get('access-control-allow-origin')).to.equal('https://app.example.test');
      expect(again.headers.get('vary')).to.match(/origin/i);
      const stale = await fetch(`${server.issuer}${path}`, { headers: { 'if-none-match': '"other"' } });
      expect(stale.status).to.equal(200);
    });
  }

  it('builds endpoint URLs from the request origin, as oidc-provider does', async function () {
    const port = new URL(server.issuer).port;
    const viaLocalhost = (await (await fetch(`http://localhost:${port}/.well-known/openid-configuration`)).json()) as {
      token_endpoint: string;
    };
    const viaIp = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as { token_endpoint: string };
    expect(viaLocalhost.token_endpoint).to.equal(`http://localhost:${port}/token`);
    expect(viaIp.token_endpoint).to.equal(`${server.issuer}/token`);
  });

  it('keeps a document for another host out of shared caches and out of memory', async function () {
    const port = new URL(server.issuer).port;
    for (const path of ['/.well-known/openid-configuration', '/jwks']) {
      const other = await fetch(`http://localhost:${port}${path}`);
      expect(other.headers.get('cache-control')).to.equal('no-store');
      expect(other.headers.get('etag')).to.equal(null);
      const issuer = await fetch(`${server.issuer}${path}`);
      expect(issuer.headers.get('cache-control')).to.match(/^public, max-age=/);
    }
  });

  it('notices a rotation made by another replica while it serves only the JWKS from memory', async function () {
    const replica = await startTestServer({ oidc: { keyCacheMs: 0 } });
    try {
      await fetch(`${replica.issuer}/jwks`);
      const rotated = await server.services.keyStore.rotate('ES256', { immediate: true });
      let kids: string[] = [];
      for (let i = 0; i < 40 && !kids.includes(rotated.kid); i += 1) {
        kids = ((await (await fetch(`${replica.issuer}/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((key) => key.kid);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(kids).to.include(rotated.kid);
    } finally {
      await replica.close();
    }
  });

  it('serves the new JWKS, with a new ETag, as soon as the provider is rebuilt for a rotated key', async function () {
    const before = await fetch(`${server.issuer}/jwks`);
    const beforeBody = (await before.json()) as { keys: { kid: string }[] };
    const rotated = await server.services.keyStore.rotate('RS256', { immediate: true });
    expect(await server.services.holder.reloadKeys()).to.equal(true);
    const after = await fetch(`${server.issuer}/jwks`);
    const afterText = await after.text();
    const kids = (JSON.parse(afterText) as { keys: { kid: string }[] }).keys.map((key) => key.kid);
    expect(kids).to.include(rotated.kid);
    expect(beforeBody.keys.map((key) => key.kid)).to.not.include(rotated.kid);
    expect(after.headers.get('etag')).to.not.equal(before.headers.get('etag'));
    expect(afterText).to.equal((await fromProvider(server, '/jwks')).body);
    const cached = await fetch(`${server.issuer}/jwks`, { headers: { 'if-none-match': after.headers.get('etag')! } });
    expect(cached.status).to.equal(304);
  });
});
