import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import Koa from 'koa';
import { createDatabase } from '../../../src/db/sequelize.js';
import { migrationsCurrent, readiness } from '../../../src/http/health.js';
import { createLogger } from '../../../src/log.js';
import { freshDatabase, resetState, TEST_DATABASE_URL } from '../../helpers/bootstrap.js';
import { Browser } from '../../helpers/browser.js';
import { type LoginWorld, loginViaDingTalk, registerRelyingParty, startLoginWorld, USERS } from '../../helpers/login-flow.js';

const METRICS_TOKEN = 'metrics-token-for-tests-0123456789';

type Line = Record<string, unknown>;

/** The product with the emulator, logging at debug into `lines`. */
async function startObservedWorld(lines: Line[]): Promise<LoginWorld> {
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as Line);
      done();
    },
  });
  return startLoginWorld({ logLevel: 'debug', metrics: { enabled: true, token: METRICS_TOKEN } }, { destination });
}

describe('health, readiness, metrics and request logs (real Postgres and Redis)', function () {
  const lines: Line[] = [];
  let world: LoginWorld;
  let issuer: string;

  before(async function () {
    await resetState();
    world = await startObservedWorld(lines);
    issuer = world.server.issuer;
  });

  after(async function () {
    await world?.close();
  });

  const scrape = async (): Promise<string> => {
    const response = await fetch(`${issuer}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(response.status).to.equal(200);
    expect(response.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4/);
    return response.text();
  };

  it('/healthz answers while the process lives; /readyz checks Postgres, Redis and migrations', async function () {
    const health = await fetch(`${issuer}/healthz`);
    expect(health.status).to.equal(200);
    expect(await health.json()).to.deep.equal({ status: 'ok' });
    const ready = await fetch(`${issuer}/readyz`);
    expect(ready.status).to.equal(200);
    expect(ready.headers.get('cache-control')).to.equal('no-store');
    expect(await ready.json()).to.deep.equal({ status: 'ok', checks: { postgres: 'ok', redis: 'ok', migrations: 'ok' } });
  });

  it('/metrics needs the bearer token when METRICS_TOKEN is set', async function () {
    expect((await fetch(`${issuer}/metrics`)).status).to.equal(401);
    const wrong = await fetch(`${issuer}/metrics`, { headers: { authorization: 'Bearer not-the-token-at-all' } });
    expect(wrong.status).to.equal(401);
    expect(wrong.headers.get('www-authenticate')).to.match(/^Bearer/);
  });

  it('/metrics counts tokens by grant type and requests by route template', async function () {
    const client = await world.server.services.clientStore.add({ name: 'metered', grantTypes: ['client_credentials'] });
    const response = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
    });
    expect(response.status).to.equal(200);
    const text = await scrape();
    expect(text).to.match(/^oidc_tokens_issued_total\{grant_type="client_credentials"\} 1$/m);
    expect(text).to.match(/^http_request_duration_seconds_count\{method="POST",route="token",status="200"\} 1$/m);
    for (const name of [
      'oidc_logins_total',
      'dingtalk_api_duration_seconds',
      'dingtalk_api_errors_total',
      'redis_errors_total',
      'postgres_errors_total',
      'rate_limit_rejections_total',
    ]) {
      expect(text).to.contain(`# TYPE ${name} `);
    }
    expect(text).to.match(/^process_cpu_seconds_total /m);
    expect(text).to.match(/^nodejs_heap_size_used_bytes /m);
  });

  it('counts logins and DingTalk calls, and labels routes by template (never an interaction id)', async function () {
    const rp = await registerRelyingParty(world, { firstParty: true });
    const { callback } = await loginViaDingTalk(world, new Browser(), rp, USERS.admin);
    expect(callback.searchParams.get('code')).to.be.a('string');
    const text = await scrape();
    expect(text).to.match(/^oidc_logins_total\{outcome="succeeded"\} 1$/m);
    expect(text).to.match(/^dingtalk_api_duration_seconds_count\{operation="dingtalk\.exchange_code",outcome="ok"\} 1$/m);
    expect(text).to.match(/^http_request_duration_seconds_count\{method="GET",route="\/interaction\/:uid",status="200"\} \d+$/m);
    expect(text).to.match(/route="authorization"/);
    const routes = new Set([...text.matchAll(/route="([^"]*)"/g)].map((match) => match[1]));
    for (const route of routes) expect(route, route).to.match(/^(\/[A-Za-z0-9/:_.-]*|[a-z_]+)$/);
    expect([...routes].filter((route) => /\/interaction\/[^:]/.test(route!))).to.deep.equal([]);
  });

  it('echoes a valid incoming request id and puts it on the access line, which holds no secrets', async function () {
    const client = await world.server.services.clientStore.add({ name: 'logged', grantTypes: ['client_credentials'] });
    const response = await fetch(`${issuer}/token?code=query-secret-123`, {
      method: 'POST',
      headers: {
        'x-request-id': 'lb-7f3a9c.42',
        authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`,
        cookie: 'session=cookie-secret-456',
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
    });
    expect(response.headers.get('x-request-id')).to.equal('lb-7f3a9c.42');
    const { access_token: accessToken } = (await response.json()) as { access_token: string };
    const mine = lines.filter((line) => line.reqId === 'lb-7f3a9c.42');
    expect(mine).to.have.length.of.at.least(1);
    expect(mine.find((line) => line.msg === 'request')).to.include({ method: 'POST', route: 'token', status: 200 });
    const everything = JSON.stringify(lines);
    for (const secret of [client.clientSecret!, accessToken, 'query-secret-123', 'cookie-secret-456']) {
      expect(everything).to.not.contain(secret);
    }
  });

  it('replaces a missing or unsafe request id with a new one', async function () {
    const made = await fetch(`${issuer}/healthz`);
    expect(made.headers.get('x-request-id')).to.match(/^[0-9a-f-]{36}$/);
    for (const bad of ['has spaces in it', 'x'.repeat(129), 'quote"d']) {
      const response = await fetch(`${issuer}/healthz`, { headers: { 'x-request-id': bad } });
      expect(response.headers.get('x-request-id'), bad).to.match(/^[0-9a-f-]{36}$/);
    }
  });

  it('carries the request id into the DingTalk call logs of a login', async function () {
    const callbackLines = lines.filter((line) => line.msg === 'request' && line.route === '/dingtalk/callback');
    expect(callbackLines).to.have.length.of.at.least(1);
    const reqId = callbackLines.at(-1)!.reqId;
    expect(reqId).to.be.a('string');
    const calls = lines.filter((line) => line.msg === 'DingTalk call' && line.reqId === reqId);
    expect(calls.map((line) => line.operation)).to.include('dingtalk.exchange_code');
    expect(JSON.stringify(lines)).to.not.match(/authCode=/);
  });
});

describe('readiness with a pending migration', function () {
  let emptyUrl: string;

  before(async function () {
    emptyUrl = await freshDatabase('empty');
  });

  it('says not ready (503, migrations failing) on a database that lacks migrations', async function () {
    const db = createDatabase(emptyUrl, { poolMax: 2 });
    const app = new Koa();
    app.use(readiness({ migrations: migrationsCurrent(db.sequelize, 5_000) }, createLogger({ logLevel: 'silent' })));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/readyz`);
      expect(response.status).to.equal(503);
      expect(await response.json()).to.deep.equal({ status: 'failing', checks: { migrations: 'failing' } });
    } finally {
      server.close();
      await db.close();
    }
  });

  it('reuses a migration check for its time to live', async function () {
    const db = createDatabase(TEST_DATABASE_URL, { poolMax: 2 });
    try {
      let queries = 0;
      const query = db.sequelize.query.bind(db.sequelize);
      (db.sequelize as unknown as { query: typeof query }).query = ((...args: Parameters<typeof query>) => {
        queries += 1;
        return query(...args);
      }) as typeof query;
      const check = migrationsCurrent(db.sequelize, 60_000);
      await Promise.all([check(), check(), check()]);
      const afterFirst = queries;
      await check();
      expect(afterFirst).to.be.greaterThan(0);
      expect(queries).to.equal(afterFirst);
    } finally {
      await db.close();
    }
  });
});
