import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { resetState, startTestServer, type TestServer } from '../../helpers/bootstrap.js';

interface Answer {
  status: number;
  /** The raw header lines as sent, name, value, name, value…, without Date (it changes by the second). */
  raw: string[];
  body: Buffer;
  header(name: string): string | undefined;
}

/**
 * One request to 127.0.0.1:port with exactly these headers, the Host included (fetch cannot set it:
 * oidc-provider builds endpoint URLs from the request's origin, so every way in is asked for the same).
 */
function send(port: number, path: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers, agent: false },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const raw: string[] = [];
          for (let i = 0; i < response.rawHeaders.length; i += 2) {
            if (response.rawHeaders[i]!.toLowerCase() !== 'date') raw.push(response.rawHeaders[i]!, response.rawHeaders[i + 1]!);
          }
          resolve({
            status: response.statusCode ?? 0,
            raw,
            body: Buffer.concat(chunks),
            header: (name) => {
              const value = response.headers[name.toLowerCase()];
              return Array.isArray(value) ? value.join(', ') : value;
            },
          });
        });
      },
    );
    request.on('error', reject);
    request.end();
  });
}

/** A listener of our own on a free port, kept alive as long as the product's (same Keep-Alive line). */
async function listen(handle: http.RequestListener, keepAliveTimeout: number): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer(handle);
  server.keepAliveTimeout = keepAliveTimeout;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The same request, answered by the current oidc-provider alone (no app, no copies in front). */
async function fromProvider(server: TestServer, path: string, headers: Record<string, string>): Promise<Answer> {
  const handle = server.services.holder.current().callback();
  // Koa answers its own errors (ctx.onerror), so the request's promise never rejects.
  const bare = await listen((req, res) => void handle(req, res), server.server.keepAliveTimeout);
  try {
    return await send(bare.port, path, { headers });
  } finally {
    await bare.close();
  }
}

/**
 * The ways into one running product, each asked with the issuer's Host:
 * - `listener`: the product's own listener (app/server.ts): the copy first, then Koa;
 * - `koa`: the same Koa app on a listener of its own, without the listener's first look;
 * and `probe`, which runs only the listener's first look (`wellKnown.answer`) and says 599 when it
 * left the request to Koa: which requests the fast path takes, which it leaves.
 */
interface Ways {
  listener: number;
  koa: number;
  probe: number;
  close(): Promise<void>;
}

async function waysInto(server: TestServer): Promise<Ways> {
  const handle = server.services.app.callback();
  const koa = await listen((req, res) => void handle(req, res), server.server.keepAliveTimeout);
  const { answer } = server.services.wellKnown;
  const probe = await listen((req, res) => {
    if (answer(req, res)) return;
    res.statusCode = 599;
    res.end();
  }, server.server.keepAliveTimeout);
  return {
    listener: server.config.port,
    koa: koa.port,
    probe: probe.port,
    close: async () => {
      await koa.close();
      await probe.close();
    },
  };
}

const PATHS = ['/.well-known/openid-configuration', '/jwks'];
const BOTH = ['listener', 'koa'] as const;

describe('discovery and JWKS served from memory (real Postgres and Redis)', function () {
  let server: TestServer;
  let ways: Ways;
  let host: string;

  before(async function () {
    await resetState();
    server = await startTestServer();
    ways = await waysInto(server);
    host = new URL(server.issuer).host;
  });

  after(async function () {
    await ways?.close();
    await server?.close();
  });

  for (const way of BOTH) {
    describe(`through ${way === 'listener' ? 'the listener (before Koa)' : 'Koa alone'}`, function () {
      const port = (): number => ways[way];

      for (const path of PATHS) {
        it(`serves ${path} exactly as oidc-provider does, the first time and from memory`, async function () {
          const expected = await fromProvider(server, path, { host });
          expect(expected.status).to.equal(200);
          const first = await send(port(), path, { headers: { host } });
          const second = await send(port(), path, { headers: { host } });
          for (const response of [first, second]) {
            expect(response.status).to.equal(200);
            expect(response.header('content-type')).to.equal(expected.header('content-type'));
            expect(response.body.toString('utf8')).to.equal(expected.body.toString('utf8'));
            expect(response.header('content-length')).to.equal(String(response.body.length));
            expect(response.header('etag')).to.match(/^"[A-Za-z0-9_-]{27}"$/);
            expect(response.header('cache-control')).to.match(/^public, max-age=\d+$/);
            expect(response.header('access-control-allow-origin')).to.equal('*');
            expect(response.header('x-content-type-options')).to.equal('nosniff');
            expect(response.header('strict-transport-security')).to.equal(undefined); // an http issuer
          }
          expect(second.header('etag')).to.equal(first.header('etag'));
          // From memory: no request id, access line or HTTP metric, whichever way it came in.
          expect(second.header('x-request-id')).to.equal(undefined);
          expect((await send(ways.probe, path, { headers: { host } })).status).to.equal(200);
        });

        it(`answers 304 to If-None-Match on ${path} (weak comparison), and echoes the Origin like oidc-provider`, async function () {
          const etag = (await send(port(), path, { headers: { host } })).header('etag')!;
          for (const ifNoneMatch of [`"other", ${etag}`, `W/${etag}`, '*', ` ${etag} `]) {
            const again = await send(port(), path, {
              headers: { host, 'if-none-match': ifNoneMatch, origin: 'https://app.example.test' },
            });
            expect(again.status, ifNoneMatch).to.equal(304);
            expect(again.body.length).to.equal(0);
            expect(again.header('etag')).to.equal(etag);
            expect(again.header('content-type')).to.equal(undefined);
            expect(again.header('content-length')).to.equal(undefined);
            expect(again.header('cache-control')).to.match(/^public, max-age=\d+$/);
            expect(again.header('access-control-allow-origin')).to.equal('https://app.example.test');
            expect(again.header('vary')).to.match(/origin/i);
          }
          for (const ifNoneMatch of ['"other"', etag.slice(0, -2) + '"', 'W/"other"']) {
            expect((await send(port(), path, { headers: { host, 'if-none-match': ifNoneMatch } })).status, ifNoneMatch).to.equal(200);
          }
        });

        it(`answers HEAD on ${path} with GET's headers and no body`, async function () {
          const get = await send(port(), path, { headers: { host } });
          const head = await send(port(), path, { method: 'HEAD', headers: { host } });
          expect(head.status).to.equal(200);
          expect(head.body.length).to.equal(0);
          expect(head.raw).to.deep.equal(get.raw);
          const cached = await send(port(), path, { method: 'HEAD', headers: { host, 'if-none-match': get.header('etag')! } });
          expect(cached.status).to.equal(304);
        });

        it(`leaves ${path} with a query string to oidc-provider, out of memory`, async function () {
          const response = await send(port(), `${path}?x=1`, { headers: { host } });
          const expected = await fromProvider(server, `${path}?x=1`, { host });
          expect(response.status).to.equal(expected.status);
          expect(response.body.toString('utf8')).to.equal(expected.body.toString('utf8'));
          expect(response.header('etag')).to.equal(undefined);
          expect(response.header('x-request-id')).to.be.a('string'); // through the whole app
        });

        it(`leaves a POST to ${path} to the app`, async function () {
          const response = await send(port(), path, { method: 'POST', headers: { host } });
          expect(response.status).to.not.equal(200);
          expect(response.header('etag')).to.equal(undefined);
          expect(response.header('x-request-id')).to.be.a('string');
        });
      }

      it('builds endpoint URLs from the request origin, as oidc-provider does', async function () {
        const other = `localhost:${new URL(server.issuer).port}`;
        const viaLocalhost = JSON.parse((await send(port(), PATHS[0]!, { headers: { host: other } })).body.toString('utf8')) as {
          token_endpoint: string;
        };
        const viaIp = JSON.parse((await send(port(), PATHS[0]!, { headers: { host } })).body.toString('utf8')) as {
          token_endpoint: string;
        };
        expect(viaLocalhost.token_endpoint).to.equal(`http://${other}/token`);
        expect(viaIp.token_endpoint).to.equal(`${server.issuer}/token`);
      });

      it('keeps a document for another host out of shared caches and out of memory', async function () {
        for (const path of PATHS) {
          for (const other of [`localhost:${new URL(server.issuer).port}`, `127.0.0.2:${new URL(server.issuer).port}`]) {
            const response = await send(port(), path, { headers: { host: other } });
            expect(response.status, other).to.equal(200);
            expect(response.header('cache-control'), other).to.equal('no-store');
            expect(response.header('etag'), other).to.equal(undefined);
            expect((await send(ways.probe, path, { headers: { host: other } })).status, other).to.equal(599);
          }
          const issuer = await send(port(), path, { headers: { host } });
          expect(issuer.header('cache-control')).to.match(/^public, max-age=/);
        }
      });
    });
  }

  it('answers byte for byte alike before Koa and in Koa, and leaves to Koa what it is not sure of', async function () {
    const port = new URL(server.issuer).port;
    for (const path of PATHS) {
      await send(ways.listener, path, { headers: { host } }); // a copy for the current provider
      const etag = (await send(ways.koa, path, { headers: { host } })).header('etag')!;
      const cases: { name: string; fast: boolean; method?: string; path?: string; headers: Record<string, string> }[] = [
        { name: 'GET', fast: true, headers: { host } },
        { name: 'GET with an Origin', fast: true, headers: { host, origin: 'https://app.example.test' } },
        { name: 'GET, If-None-Match', fast: true, headers: { host, 'if-none-match': etag } },
        { name: 'GET, stale If-None-Match', fast: true, headers: { host, 'if-none-match': '"old"' } },
        { name: 'HEAD', fast: true, method: 'HEAD', headers: { host } },
        { name: 'HEAD, If-None-Match', fast: true, method: 'HEAD', headers: { host, 'if-none-match': etag } },
        // TRUST_PROXY is off here: forwarded headers name nothing.
        {
          name: 'X-Forwarded-Host without TRUST_PROXY',
          fast: true,
          headers: { host, 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' },
        },
        { name: 'another host', fast: false, headers: { host: `localhost:${port}` } },
        { name: 'a host with userinfo', fast: false, headers: { host: `user@${host}` } },
        { name: 'a query string', fast: false, path: `${path}?a=b`, headers: { host } },
        { name: 'an empty query string', fast: false, path: `${path}?`, headers: { host } },
        { name: 'OPTIONS', fast: false, method: 'OPTIONS', headers: { host, origin: 'https://app.example.test' } },
        { name: 'POST', fast: false, method: 'POST', headers: { host } },
      ];
      for (const { name, fast, method, headers, ...rest } of cases) {
        const options = { ...(method ? { method } : {}), headers };
        const target = rest.path ?? path;
        const viaListener = await send(ways.listener, target, options);
        const viaKoa = await send(ways.koa, target, options);
        const label = `${path}: ${name}`;
        expect(viaListener.status, label).to.equal(viaKoa.status);
        expect(stripRequestId(viaListener.raw), label).to.deep.equal(stripRequestId(viaKoa.raw));
        expect(viaListener.body.equals(viaKoa.body), label).to.equal(true);
        const probed = await send(ways.probe, target, options);
        expect(probed.status === 599, `${label}: left to Koa`).to.equal(!fast);
        if (fast) {
          expect(probed.raw, label).to.deep.equal(viaKoa.raw);
          expect(probed.body.equals(viaKoa.body), label).to.equal(true);
        }
      }
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

  for (const way of BOTH) {
    it(`serves the new JWKS, with a new ETag, as soon as the provider is rebuilt for a rotated key (${way})`, async function () {
      const before = await send(ways[way], '/jwks', { headers: { host } });
      expect((await send(ways.probe, '/jwks', { headers: { host } })).status).to.equal(200); // from the copy
      const beforeKids = (JSON.parse(before.body.toString('utf8')) as { keys: { kid: string }[] }).keys.map((key) => key.kid);
      const rotated = await server.services.keyStore.rotate('RS256', { immediate: true });
      expect(await server.services.holder.reloadKeys()).to.equal(true);
      // A new provider instance: no copy for it yet, so the first request goes through Koa and fills it.
      expect((await send(ways.probe, '/jwks', { headers: { host } })).status).to.equal(599);
      const after = await send(ways[way], '/jwks', { headers: { host } });
      const kids = (JSON.parse(after.body.toString('utf8')) as { keys: { kid: string }[] }).keys.map((key) => key.kid);
      expect(kids).to.include(rotated.kid);
      expect(beforeKids).to.not.include(rotated.kid);
      expect(after.header('etag')).to.not.equal(before.header('etag'));
      expect(after.body.toString('utf8')).to.equal((await fromProvider(server, '/jwks', { host })).body.toString('utf8'));
      const copy = await send(ways.probe, '/jwks', { headers: { host } });
      expect(copy.status).to.equal(200);
      expect(copy.header('etag')).to.equal(after.header('etag'));
      expect(copy.body.equals(after.body)).to.equal(true);
      for (const port of [ways.listener, ways.koa]) {
        const cached = await send(port, '/jwks', { headers: { host, 'if-none-match': after.header('etag')! } });
        expect(cached.status).to.equal(304);
      }
    });
  }
});

describe('discovery and JWKS of an https issuer behind a proxy (real Postgres and Redis)', function () {
  const host = 'id.example.test';
  const https = { host, 'x-forwarded-proto': 'https' };
  let server: TestServer;
  let ways: Ways;

  before(async function () {
    await resetState();
    server = await startTestServer({ issuer: `https://${host}`, trustProxy: true, logLevel: 'error' });
    ways = await waysInto(server);
    for (const path of PATHS) await send(ways.listener, path, { headers: https }); // the copies
  });

  after(async function () {
    await ways?.close();
    await server?.close();
  });

  for (const way of BOTH) {
    it(`serves the copies with HSTS when the proxy says https (${way})`, async function () {
      for (const path of PATHS) {
        const response = await send(ways[way], path, { headers: https });
        expect(response.status).to.equal(200);
        expect(response.header('strict-transport-security')).to.equal('max-age=31536000; includeSubDomains');
        expect(response.header('cache-control')).to.match(/^public, max-age=/);
        if (path === PATHS[0]) expect(JSON.parse(response.body.toString('utf8'))).to.include({ token_endpoint: `https://${host}/token` });
      }
    });

    it(`still refuses or redirects a request that did not come through TLS (${way})`, async function () {
      for (const path of PATHS) {
        const refused = await send(ways[way], path, { headers: { host } });
        expect(refused.status).to.equal(400);
        expect(JSON.parse(refused.body.toString('utf8'))).to.include({ error: 'invalid_request' });
        const redirected = await send(ways[way], path, { headers: { host, 'x-forwarded-proto': 'http' } });
        expect(redirected.status).to.equal(308);
        expect(redirected.header('location')).to.equal(`https://${host}${path}`);
      }
    });
  }

  it('answers byte for byte alike before Koa and in Koa, with the forwarded origin worked out as Koa does', async function () {
    const local = `127.0.0.1:${server.config.port}`;
    const cases: { name: string; fast: boolean; headers: Record<string, string> }[] = [
      { name: 'X-Forwarded-Proto: https', fast: true, headers: https },
      { name: 'X-Forwarded-Proto: HTTPS, http', fast: true, headers: { host, 'x-forwarded-proto': 'HTTPS, http' } },
      { name: 'X-Forwarded-Host', fast: true, headers: { host: local, 'x-forwarded-host': host, 'x-forwarded-proto': 'https' } },
      {
        name: 'X-Forwarded-Host, a list',
        fast: true,
        headers: { host: local, 'x-forwarded-host': `${host}, other.example`, 'x-forwarded-proto': 'https' },
      },
      { name: 'no X-Forwarded-Proto', fast: false, headers: { host } },
      { name: 'X-Forwarded-Proto: http', fast: false, headers: { host, 'x-forwarded-proto': 'http' } },
      { name: 'X-Forwarded-Proto: http, https', fast: false, headers: { host, 'x-forwarded-proto': 'http, https' } },
      { name: 'the pod address', fast: false, headers: { host: local, 'x-forwarded-proto': 'https' } },
      { name: 'another forwarded host', fast: false, headers: { host, 'x-forwarded-host': 'other.example', 'x-forwarded-proto': 'https' } },
    ];
    for (const path of PATHS) {
      for (const { name, fast, headers } of cases) {
        const label = `${path}: ${name}`;
        const viaListener = await send(ways.listener, path, { headers });
        const viaKoa = await send(ways.koa, path, { headers });
        expect(viaListener.status, label).to.equal(viaKoa.status);
        expect(stripRequestId(viaListener.raw), label).to.deep.equal(stripRequestId(viaKoa.raw));
        expect(viaListener.body.equals(viaKoa.body), label).to.equal(true);
        expect((await send(ways.probe, path, { headers })).status === 599, `${label}: left to Koa`).to.equal(!fast);
      }
    }
  });
});

/** X-Request-Id differs per request; everything else must not. */
function stripRequestId(raw: string[]): string[] {
  return raw.map((value, i) => (i % 2 === 1 && raw[i - 1]!.toLowerCase() === 'x-request-id' ? '<id>' : value));
}
