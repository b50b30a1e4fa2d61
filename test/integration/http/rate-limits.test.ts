import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import Koa from 'koa';
import { createMetrics } from '../../../src/metrics.js';
import { createLogger } from '../../../src/log.js';
import { createRateLimits } from '../../../src/http/middleware/rate-limit.js';
import { createRedis } from '../../../src/store/redis.js';
import { createMemoryLimiters, createRedisLimiters } from '../../../src/store/rate-limiters.js';
import { createPageRenderer } from '../../../src/ui/pages.js';
import * as oidc from 'openid-client';
import { freePort, resetState, startTestServer, TEST_REDIS_URL, testConfig, type TestServer } from '../../helpers/bootstrap.js';
import { Browser } from '../../helpers/browser.js';
import { exchangeCode, type LoginWorld, loginViaDingTalk, registerRelyingParty, startLoginWorld, USERS } from '../../helpers/login-flow.js';

interface Client {
  clientId: string;
  clientSecret: string;
}

function basic(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

describe('rate limits (real Postgres and Redis)', function () {
  let server: TestServer;

  before(async function () {
    await resetState();
    server = await startTestServer({
      trustProxy: true, // tests speak from several addresses through X-Forwarded-For
      rateLimits: {
        enabled: true,
        tokenFlood: { points: 10_000, durationSeconds: 10 },
        tokenFailuresPerClientIp: { points: 3, durationSeconds: 60, blockSeconds: 30 },
        tokenFailuresPerIp: { points: 6, durationSeconds: 60, blockSeconds: 30 },
        tokenFailuresPerClient: { points: 8, durationSeconds: 60, blockSeconds: 30 },
        browser: { points: 5, durationSeconds: 60 },
        browserPerAddress: { points: 12, durationSeconds: 60 },
      },
    });
  });

  after(async function () {
    await server?.close();
  });

  async function newClient(
    name: string,
    grantTypes: ('client_credentials' | 'authorization_code' | 'refresh_token')[] = ['client_credentials'],
  ): Promise<Client> {
    const created = await server.services.clientStore.add({
      name,
      grantTypes,
      ...(grantTypes.includes('authorization_code') ? { redirectUris: ['https://rp.example.test/callback'] } : {}),
    });
    return { clientId: created.clientId, clientSecret: created.clientSecret! };
  }

  function token(client: Client, ip: string, options: { secret?: string; body?: string } = {}): Promise<Response> {
    return fetch(`${server.issuer}/token`, {
      method: 'POST',
      headers: {
        authorization: basic(client.clientId, options.secret ?? client.clientSecret),
        'content-type': 'application/x-www-form-urlencoded',
        'x-forwarded-for': ip,
      },
      body: options.body ?? 'grant_type=client_credentials',
    });
  }

  it('blocks a client after repeated failed authentication from one address, with 429 and Retry-After', async function () {
    const victim = await newClient('victim');
    for (let i = 0; i < 4; i += 1) {
      const response = await token(victim, '10.0.0.1', { secret: 'wrong' });
      expect(response.status, `failure ${i + 1}`).to.equal(401);
    }
    const refused = await token(victim, '10.0.0.1', { secret: 'wrong' });
    expect(refused.status).to.equal(429);
    expect(Number(refused.headers.get('retry-after'))).to.be.within(1, 30);
    expect(refused.headers.get('cache-control')).to.equal('no-store');
    expect(await refused.json()).to.include({ error: 'temporarily_unavailable' });
    // The right secret from the same address is refused too while the block lasts (it is not even checked).
    expect((await token(victim, '10.0.0.1')).status).to.equal(429);
  });

  it('keeps serving the same client from another address, and other clients from the same address', async function () {
    const victim = await newClient('victim 2');
    const neighbour = await newClient('neighbour');
    for (let i = 0; i < 5; i += 1) await token(victim, '10.0.1.1', { secret: 'wrong' });
    expect((await token(victim, '10.0.1.1')).status).to.equal(429);

    const elsewhere = await token(victim, '10.0.1.2');
    expect(elsewhere.status).to.equal(200);
    expect(await elsewhere.json()).to.have.property('access_token');
    // The block is for that client from that address only.
    expect((await token(neighbour, '10.0.1.1')).status).to.equal(200);
  });

  it('does not limit a busy, healthy service', async function () {
    const busy = await newClient('busy backend');
    const statuses = await Promise.all(Array.from({ length: 200 }, () => token(busy, '10.0.2.1').then((r) => r.status)));
    expect(new Set(statuses)).to.deep.equal(new Set([200]));
  });

  it('never refuses an honest client because its address also sent failures for other client ids', async function () {
    const honest = await newClient('honest');
    // 12 failures from one address (twice the per-address alarm): logged and counted, nothing refused.
    for (let i = 0; i < 12; i += 1) {
      const response = await token({ clientId: `guess-${i}`, clientSecret: 'x' }, '10.0.3.1');
      expect(response.status).to.equal(401);
    }
    expect((await token(honest, '10.0.3.1')).status).to.equal(200);
    expect(await server.services.metrics.registry.getSingleMetricAsString('oidc_token_errors_total')).to.match(
      /error="invalid_client"\} (1[2-9]|[2-9]\d|\d{3,})/,
    );
  });

  it('does not let failures from elsewhere lock a client out (its id is public)', async function () {
    const target = await newClient('target');
    // 3 addresses × 3 failures = 9 > 8: counted per client, logged, but not refused before the
    // secret is checked, or anyone could lock out any client by sending wrong secrets for it.
    for (const ip of ['10.0.4.1', '10.0.4.2', '10.0.4.3']) {
      for (let i = 0; i < 3; i += 1) expect((await token(target, ip, { secret: 'wrong' })).status).to.equal(401);
    }
    expect((await token(target, '10.0.4.9')).status).to.equal(200);
    const redis = new Redis(TEST_REDIS_URL);
    try {
      expect(await redis.keys(`ratelimit:tokenFailuresPerClient:${target.clientId}`)).to.have.length(1);
    } finally {
      redis.disconnect();
    }
  });

  it('counts invalid grants, for HTML and JSON answers alike, and never refuses the client for them', async function () {
    const rp = await newClient('stale codes', ['authorization_code', 'refresh_token', 'client_credentials']);
    const stale = (i: number, accept: string) =>
      fetch(`${server.issuer}/token`, {
        method: 'POST',
        headers: {
          authorization: basic(rp.clientId, rp.clientSecret),
          'content-type': 'application/x-www-form-urlencoded',
          'x-forwarded-for': '10.0.5.1',
          accept,
        },
        body: `grant_type=authorization_code&code=stale-${i}&redirect_uri=${encodeURIComponent('https://rp.example.test/callback')}`,
      });
    for (let i = 0; i < 10; i += 1) expect((await stale(i, i % 2 === 0 ? 'application/json' : 'text/html')).status).to.equal(400);
    expect((await token(rp, '10.0.5.1')).status).to.equal(200);
    expect(await server.services.metrics.registry.getSingleMetricAsString('oidc_token_errors_total')).to.match(
      /error="invalid_grant"\} ([1-9]\d+)/,
    );
  });

  it('refuses a client_secret_post client after failures from that address only, reading its client id from the body', async function () {
    const poster = await newClient('poster');
    const neighbour = await newClient('post neighbour');
    const post = (client: Client, ip: string, secret = 'wrong') =>
      fetch(`${server.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: secret }),
      });
    for (let i = 0; i < 4; i += 1) expect((await post(poster, '10.0.6.1')).status, `failure ${i + 1}`).to.equal(401);
    const refused = await post(poster, '10.0.6.1');
    expect(refused.status).to.equal(429);
    expect(refused.headers.get('retry-after')).to.match(/^\d+$/);
    // Refused before its secret is checked: the right one from there waits for the block too.
    expect((await post(poster, '10.0.6.1', poster.clientSecret)).status).to.equal(429);
    // Another client_secret_post client on that address: its body is read for the client id and
    // handed on intact to oidc-provider, which serves it.
    const other = await post(neighbour, '10.0.6.1', neighbour.clientSecret);
    expect(other.status).to.equal(200);
    expect(await other.json()).to.have.property('access_token');
    // The client itself, from another address, by either method.
    expect((await post(poster, '10.0.6.3', poster.clientSecret)).status).to.equal(200);
    expect((await token(poster, '10.0.6.3')).status).to.equal(200);
  });

  it('keeps its counters in Redis, shared by replicas', async function () {
    const redis = new Redis(TEST_REDIS_URL);
    try {
      const keys = await redis.keys('ratelimit:*');
      expect(keys.some((key) => key.startsWith('ratelimit:tokenFailuresPerClientIp:'))).to.equal(true);
      expect(keys.some((key) => key.startsWith('ratelimit:tokenFlood'))).to.equal(false); // per process, in memory
    } finally {
      redis.disconnect();
    }
  });

  /** A browser behind `ip` that opens the login page of a fresh sign-in (which gives it its cookie). */
  async function openLoginPage(ip: string): Promise<{ browser: Browser; loginPage: string }> {
    const app = await newClient(`rp ${ip} ${Math.random()}`, ['authorization_code']);
    const browser = new Browser({ 'x-forwarded-for': ip });
    const auth = new URL(`${server.issuer}/auth`);
    auth.search = new URLSearchParams({
      client_id: app.clientId,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: 'https://rp.example.test/callback',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    }).toString();
    const login = await browser.follow(auth.toString(), [server.issuer]);
    expect(login.status, login.text.slice(0, 200)).to.equal(200);
    expect(browser.cookies(new URL(server.issuer).origin).has('_dt_browser')).to.equal(true);
    return { browser, loginPage: login.url };
  }

  it('counts sign-in pages per browser, so the rest of an office behind the same address is still served', async function () {
    const first = await openLoginPage('10.0.8.1'); // 2 requests: /auth, the login page
    const statuses = [];
    for (let i = 0; i < 6; i += 1) statuses.push((await first.browser.request(first.loginPage)).status);
    expect(statuses).to.deep.equal([200, 200, 200, 200, 200, 429]); // the browser's own 5
    const colleague = await openLoginPage('10.0.8.1');
    expect((await colleague.browser.request(colleague.loginPage)).status).to.equal(200);
  });

  it('refuses a flood from one address past its ceiling, with or without cookies', async function () {
    const { browser, loginPage } = await openLoginPage('10.0.8.2'); // 2 of the address's 12
    for (let i = 0; i < 4; i += 1) expect((await browser.request(loginPage)).status).to.equal(200);
    const cookieless = () => fetch(`${server.issuer}/interaction/not-a-real-one`, { headers: { 'x-forwarded-for': '10.0.8.2' } });
    for (let i = 0; i < 6; i += 1) expect((await cookieless()).status).to.not.equal(429);
    expect((await cookieless()).status).to.equal(429);
    expect((await openLoginPage('10.0.8.3')).browser).to.be.instanceOf(Browser); // another address
  });

  it('answers browsers with a readable page and Retry-After', async function () {
    const get = () =>
      fetch(`${server.issuer}/interaction/not-a-real-one`, { headers: { 'x-forwarded-for': '10.0.7.1', 'accept-language': 'en' } });
    for (let i = 0; i < 12; i += 1) expect((await get()).status).to.not.equal(429);
    const refused = await get();
    expect(refused.status).to.equal(429);
    expect(refused.headers.get('retry-after')).to.match(/^\d+$/);
    expect(refused.headers.get('content-type')).to.match(/^text\/html/);
    const html = await refused.text();
    expect(html).to.contain('Too many requests').and.contain('rate_limited');
    // Another address is not affected.
    const other = await fetch(`${server.issuer}/interaction/not-a-real-one`, { headers: { 'x-forwarded-for': '10.0.7.2' } });
    expect(other.status).to.not.equal(429);
  });
});

describe('rate limits when Redis is unreachable', function () {
  it('count in memory (insurance limiter) instead of failing or hanging requests', async function () {
    const closedPort = await freePort();
    const redis = createRedis(`redis://127.0.0.1:${closedPort}`);
    redis.on('error', () => undefined);
    const metrics = createMetrics();
    const config = testConfig();
    const limits = createRateLimits({
      settings: {
        ...config.rateLimits,
        enabled: true,
        tokenFlood: { points: 1000, durationSeconds: 10 },
        tokenFailuresPerClientIp: { points: 2, durationSeconds: 60, blockSeconds: 30 },
        browser: { points: 3, durationSeconds: 60 },
      },
      shared: createRedisLimiters(redis),
      pages: createPageRenderer(),
      logger: createLogger({ logLevel: 'silent' }),
      metrics,
    });
    const app = new Koa();
    app.use(limits.tokenEndpoints(['/token']));
    app.use(limits.perIp('browser', ['/auth']));
    app.use((ctx) => {
      if (ctx.path === '/token') {
        ctx.status = 401;
        ctx.body = { error: 'invalid_client' };
      } else ctx.body = 'ok';
    });
    const listening = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => listening.once('listening', resolve));
    const base = `http://127.0.0.1:${(listening.address() as AddressInfo).port}`;
    try {
      const started = Date.now();
      const browser = [];
      for (let i = 0; i < 4; i += 1) browser.push((await fetch(`${base}/auth`)).status);
      expect(browser).to.deep.equal([200, 200, 200, 429]);

      const api = [];
      const authorization = basic('some-client', 'wrong');
      for (let i = 0; i < 4; i += 1) api.push((await fetch(`${base}/token`, { method: 'POST', headers: { authorization } })).status);
      expect(api).to.deep.equal([401, 401, 401, 429]);
      expect(Date.now() - started).to.be.below(1500); // no request waited for Redis
      expect(await metrics.registry.getSingleMetricAsString('redis_errors_total')).to.match(/source="rate_limiter"\} [1-9]/);
    } finally {
      listening.close();
      redis.disconnect();
    }
  });

  it('refuses a flood from one address in memory, without Redis', async function () {
    const limits = createRateLimits({
      settings: { ...testConfig().rateLimits, enabled: true, tokenFlood: { points: 5, durationSeconds: 10 } },
      shared: createMemoryLimiters(),
      pages: createPageRenderer(),
      logger: createLogger({ logLevel: 'silent' }),
    });
    const app = new Koa();
    app.use(limits.tokenEndpoints(['/token/introspection']));
    app.use((ctx) => {
      ctx.body = { active: false };
    });
    const listening = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => listening.once('listening', resolve));
    const base = `http://127.0.0.1:${(listening.address() as AddressInfo).port}`;
    try {
      const statuses = [];
      for (let i = 0; i < 6; i += 1) statuses.push((await fetch(`${base}/token/introspection`, { method: 'POST' })).status);
      expect(statuses).to.deep.equal([200, 200, 200, 200, 200, 429]);
      expect((await fetch(`${base}/token/introspection`)).status).to.equal(200); // only POST is counted
    } finally {
      listening.close();
    }
  });
});

describe('an application sending stale codes and refresh tokens (default limits)', function () {
  let world: LoginWorld | undefined;

  before(async function () {
    await resetState();
    world = await startLoginWorld({ rateLimits: { enabled: true } });
  });

  after(async function () {
    await world?.close();
  });

  it('still gets its next code exchanged after 100 stale refresh tokens and 100 stale codes', async function () {
    const rp = await registerRelyingParty(world!, { firstParty: true });
    for (let i = 0; i < 100; i += 1) {
      // As openid-client sends them (client_secret_basic), e.g. after a mass revocation.
      const error = await oidc.refreshTokenGrant(rp.config, `stale-refresh-token-${i}`).then(
        () => undefined,
        (failure: unknown) => failure as { error?: string; status?: number },
      );
      expect(error?.error, `refresh ${i}`).to.equal('invalid_grant');
    }
    for (let i = 0; i < 100; i += 1) {
      const response = await fetch(`${world!.server.issuer}/token`, {
        method: 'POST',
        headers: { authorization: basic(rp.clientId, rp.clientSecret!), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code: `stale-code-${i}`, redirect_uri: rp.redirectUri }),
      });
      expect(response.status, `code ${i}`).to.equal(400);
      expect(((await response.json()) as { error: string }).error).to.equal('invalid_grant');
    }
    const { callback, request } = await loginViaDingTalk(world!, new Browser(), rp, USERS.admin);
    const tokens = await exchangeCode(rp, callback, request);
    expect(tokens.access_token).to.be.a('string');
  });
});
