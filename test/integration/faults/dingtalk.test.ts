import { expect } from 'chai';
import { Browser, formOf, type Page } from '../../helpers/browser.js';
import {
  authorize,
  exchangeCode,
  loginViaDingTalk,
  openDingTalkPicker,
  registerRelyingParty,
  type RelyingParty,
  USERS,
} from '../../helpers/login-flow.js';
import { expectNoInternals, type FaultWorld, startFaultWorld } from './world.js';

/**
 * DingTalk's API stops answering while people are in the middle of signing in. A slow DingTalk and
 * DingTalk answering errors are covered in test/integration/login.test.ts ("gives up on a slow
 * DingTalk within the timeout", "shows \"try again\" when DingTalk fails at …"); here DingTalk is
 * not there at all (its port is closed), then comes back.
 */
describe('faults: DingTalk stops and comes back (emulator on its own port)', function () {
  this.timeout(30_000);
  let world: FaultWorld;
  let rp: RelyingParty;

  before(async function () {
    world = await startFaultWorld({ dingtalk: { timeoutMs: 1500 } });
    rp = await registerRelyingParty(world);
  });

  after(async function () {
    await world?.close();
  });

  /** Walk to DingTalk and pick a person; stop before DingTalk's redirect reaches our callback. */
  async function atCallback(): Promise<{ browser: Browser; callback: string; state: string }> {
    const request = await authorize(rp);
    const browser = new Browser({ 'accept-language': 'en' });
    const picker = await openDingTalkPicker(world, browser, request.url);
    const form = formOf(picker.text);
    const redirect = await browser.follow(new URL(form.action, picker.url).toString(), [world.dingtalk.url], {
      form: { ...form.fields, unionId: USERS.admin },
    });
    const callback = new URL(redirect.headers.get('location')!, redirect.url);
    expect(callback.pathname).to.equal('/dingtalk/callback');
    return { browser, callback: callback.toString(), state: request.state };
  }

  describe('while DingTalk is down (connection refused)', function () {
    let page: Page;
    let ms: number;
    let browser: Browser;
    let state: string;

    before(async function () {
      const at = await atCallback();
      ({ browser, state } = at);
      await world.dingtalk.close();
      const started = Date.now();
      page = await browser.follow(at.callback, [world.server.issuer]);
      ms = Date.now() - started;
    });

    it('ends on the "DingTalk unavailable" page within the configured timeout', function () {
      expect(ms).to.be.below(world.server.config.dingtalk.timeoutMs);
      expect(page.status).to.equal(503);
      expect(page.text).to.contain('dingtalk.unavailable');
      expectNoInternals(page.text);
    });

    it('offers "try again" and answers temporarily_unavailable to the application', async function () {
      expect(page.text).to.match(/href="\/interaction\/[^"]+"/);
      const href = /href="(\/interaction\/[^"]+\/abort\?error=[a-z_]+)"/.exec(page.text)![1]!.replaceAll('&amp;', '&');
      const back = await browser.follow(`${world.server.issuer}${href}`, [world.server.issuer]);
      const location = new URL(back.headers.get('location')!);
      expect(location.searchParams.get('error')).to.equal('temporarily_unavailable');
      expect(location.searchParams.get('state')).to.equal(state);
    });
  });

  describe('after DingTalk is back on the same port', function () {
    before(async function () {
      const port = Number(new URL(world.dingtalk.url).port);
      world.dingtalk = await world.emulator.listen(port, '127.0.0.1');
    });

    it('signs people in again without a restart', async function () {
      const { callback, request } = await loginViaDingTalk(world, new Browser(), rp, USERS.admin);
      const tokens = await exchangeCode(rp, callback, request);
      expect(tokens.access_token).to.be.a('string');
    });
  });
});
