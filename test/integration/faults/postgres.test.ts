import { expect } from 'chai';
import { Browser, formOf } from '../../helpers/browser.js';
import {
  authorize,
  exchangeCode,
  loginViaDingTalk,
  openDingTalkPicker,
  registerRelyingParty,
  type RelyingParty,
  USERS,
} from '../../helpers/login-flow.js';
import {
  addServiceClient,
  clientCredentials,
  eventually,
  expectNoInternals,
  type FaultWorld,
  startFaultWorld,
  timedFetch,
} from './world.js';

/**
 * PostgreSQL holds accounts, clients and keys. Its outage must not take the token service down
 * for clients already cached in the process (oidc.clientCacheMs), must end a login on a readable
 * page, and must heal by itself when PostgreSQL returns.
 */
describe('faults: PostgreSQL stops and comes back (private postgres)', function () {
  this.timeout(30_000);
  let world: FaultWorld;
  let service: { clientId: string; clientSecret: string };
  let rp: RelyingParty;

  before(async function () {
    world = await startFaultWorld({ oidc: { clientCacheMs: 30_000 } });
    service = await addServiceClient(world);
    rp = await registerRelyingParty(world);
    // Warm the caches the way traffic does: the service and the app have been seen recently.
    expect((await clientCredentials(world, service)).status).to.equal(200);
    await authorize(rp).then((request) => fetch(request.url, { redirect: 'manual' }));
  });

  after(async function () {
    await world?.close();
  });

  describe('while PostgreSQL is stopped', function () {
    before(async function () {
      await world.postgres.stop();
    });

    it('reports not ready (503, postgres failing) within 3 s', async function () {
      const ready = await timedFetch(`${world.server.issuer}/readyz`);
      expect(ready.ms).to.be.below(3000);
      expect(ready.status).to.equal(503);
      expect(ready.body.checks).to.deep.include({ postgres: 'failing', redis: 'ok' });
    });

    it('keeps serving client_credentials to a client in the cache', async function () {
      const answer = await clientCredentials(world, service);
      expect(answer.status, answer.text).to.equal(200);
      expect(answer.body.access_token).to.be.a('string');
      expect(answer.ms).to.be.below(1000);
    });

    it('ends a DingTalk login on a readable error page with a way back, quickly', async function () {
      const request = await authorize(rp);
      const browser = new Browser({ 'accept-language': 'en' });
      const picker = await openDingTalkPicker(world, browser, request.url);
      const form = formOf(picker.text);
      const started = Date.now();
      const page = await browser.follow(new URL(form.action, picker.url).toString(), [world.server.issuer, world.dingtalk.url], {
        form: { ...form.fields, unionId: USERS.admin },
      });
      expect(Date.now() - started).to.be.below(3000);
      expect(page.status).to.be.at.least(500);
      expect(page.headers.get('content-type')).to.match(/text\/html/);
      expect(page.text).to.match(/<html/i);
      expect(page.text).to.match(/href="\/interaction\/[^"]+"/); // Try again
      expect(page.text).to.match(/href="\/interaction\/[^"]+\/abort\?error=/); // Back to the application
      expectNoInternals(page.text);
    });

    // Needs the fix described in the fault-test report (src/interactions/render.ts): a database
    // outage is temporary, like DingTalk being down, so 503 and temporarily_unavailable.
    it('tells the application temporarily_unavailable when the person goes back', async function () {
      const request = await authorize(rp);
      const browser = new Browser();
      const picker = await openDingTalkPicker(world, browser, request.url);
      const form = formOf(picker.text);
      const page = await browser.follow(new URL(form.action, picker.url).toString(), [world.server.issuer, world.dingtalk.url], {
        form: { ...form.fields, unionId: USERS.admin },
      });
      const back = /href="(\/interaction\/[^"]+\/abort\?error=[a-z_]+)"/.exec(page.text)?.[1]?.replaceAll('&amp;', '&');
      expect(back, 'a "back to the application" link').to.be.a('string');
      const answer = await browser.follow(`${world.server.issuer}${back}`, [world.server.issuer]);
      const location = new URL(answer.headers.get('location')!);
      expect(location.searchParams.get('state')).to.equal(request.state);
      expect({ status: page.status, error: location.searchParams.get('error') }).to.deep.equal({
        status: 503,
        error: 'temporarily_unavailable',
      });
    });
  });

  describe('after PostgreSQL is back (same port, same data)', function () {
    before(async function () {
      await world.postgres.start();
    });

    it('becomes ready again without a restart', async function () {
      // The migrations check reuses its last outcome, a failure too, for 10 s (src/http/health.ts).
      const ready = await eventually(
        () => timedFetch(`${world.server.issuer}/readyz`),
        (r) => r.status === 200,
        12_000,
      );
      expect(ready.body.checks).to.deep.include({ postgres: 'ok', redis: 'ok' });
    });

    it('signs people in again, through to tokens', async function () {
      const { callback, request } = await loginViaDingTalk(world, new Browser(), rp, USERS.admin);
      const tokens = await exchangeCode(rp, callback, request);
      expect(tokens.claims()?.sub).to.be.a('string');
    });

    it('registers and serves a client created after the outage', async function () {
      const fresh = await addServiceClient(world, 'Reports job');
      expect((await clientCredentials(world, fresh)).status).to.equal(200);
    });
  });

  describe('while PostgreSQL hangs (SIGSTOP: connections stay open, nothing answers)', function () {
    before(async function () {
      // A pooled connection exists (the requests above), so the next query goes to a frozen backend.
      expect((await timedFetch(`${world.server.issuer}/readyz`)).status).to.equal(200);
      world.postgres.freeze();
    });

    after(function () {
      world.postgres.thaw();
    });

    it('keeps serving client_credentials to a client in the cache', async function () {
      const answer = await clientCredentials(world, service);
      expect(answer.status, answer.text).to.equal(200);
      expect(answer.ms).to.be.below(1000);
    });

    it('reports not ready within its 3 s check limit instead of hanging', async function () {
      const ready = await timedFetch(`${world.server.issuer}/readyz`, {}, 6000);
      expect(ready.ms).to.be.below(4000);
      expect(ready.status).to.equal(503);
      expect(ready.body.checks).to.deep.include({ postgres: 'failing', redis: 'ok' });
    });

    it('is ready again once PostgreSQL answers', async function () {
      world.postgres.thaw();
      await eventually(
        () => timedFetch(`${world.server.issuer}/readyz`),
        (r) => r.status === 200,
        8000,
      );
    });
  });
});
