/**
 * Free login (免登) end to end in a real browser (dingtalk-api.md §4): headless Chromium with a
 * DingTalk user agent opens our login page, which loads the JSAPI script from the URL the product
 * pins (`login.jsapiUrl`) — here the emulator's stand-in of DingTalk's `dingtalk.open.js` — and runs
 * the page's own free-login script: `dd.runtime.permission.requestAuthCode` yields a code, the page
 * posts it, the product resolves it at `/topapi/v2/user/getuserinfo`, and the relying party gets a
 * code for the person signed in to the "DingTalk client", with no click and no DingTalk login page.
 * Real PostgreSQL and Redis; the relying party's URLs are answered inside the browser.
 */
import { expect } from 'chai';
import * as oidc from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { createEmulator, JSAPI_PATH } from '../../src/emulator/index.js';
import { freePort, resetState, startTestServer } from '../helpers/bootstrap.js';
import { CSP_LISTENER, launchChromium } from '../helpers/chromium.js';
import { authorize, CORP_ID, exchangeCode, type LoginWorld, registerRelyingParty, type RelyingParty } from '../helpers/login-flow.js';

const APP = { clientId: 'dingtest-app', clientSecret: 'dingtest-secret-0123456789' };
const RP_ORIGIN = 'https://rp.example.test';
const LINA = { userid: '0226103541652', unionid: 'a1Xk9PqR2sVb7nLmC3dEfgiEiE' }; // 李娜, seed.json
const DINGTALK_IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 AliApp(DingTalk/7.6.0) com.laiwang.DingTalk/38000000 Channel/201200 language/zh-Hans-CN';

describe('e2e: free login inside the DingTalk client, against the emulator’s JSAPI stand-in', function () {
  this.timeout(30_000);
  let browser: Browser;
  let world: LoginWorld;
  let rp: RelyingParty;
  let context: BrowserContext | undefined;

  before(async function () {
    await resetState();
    const port = await freePort();
    const emulator = createEmulator({ ...APP, corpId: CORP_ID, redirectUris: [`http://127.0.0.1:${port}/dingtalk/callback`] });
    const dingtalk = await emulator.listen(0, '127.0.0.1');
    const base = dingtalk.url;
    const server = await startTestServer(
      {
        dingtalk: { ...APP, corpId: CORP_ID, loginBaseUrl: base, apiBaseUrl: base, oapiBaseUrl: base, timeoutMs: 1500 },
        login: { jsapiUrl: `${base}${JSAPI_PATH}` },
      },
      port,
    );
    world = { server, emulator, dingtalk, close: async () => (await server.close(), await dingtalk.close()) };
    browser = await launchChromium();
    rp = await registerRelyingParty(world, { firstParty: true });
  });

  after(async function () {
    await browser?.close();
    await world?.close();
  });

  afterEach(async function () {
    await context?.close();
    context = undefined;
  });

  /** A tab with the given user agent; relying-party URLs are recorded and answered in the browser. */
  async function openTab(userAgent: string): Promise<{ page: Page; rpVisits: string[]; problems: string[] }> {
    context = await browser.newContext({ userAgent, locale: 'zh-CN', serviceWorkers: 'block' });
    context.setDefaultTimeout(10_000);
    await context.addInitScript(CSP_LISTENER);
    const page = await context.newPage();
    const rpVisits: string[] = [];
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error' || /content security policy/i.test(message.text())) problems.push(message.text());
    });
    // The relying party is reached by a redirect, which playwright's page.route does not see.
    const cdp = await context.newCDPSession(page);
    cdp.on('Fetch.requestPaused', (event) => {
      if (event.resourceType === 'Document') rpVisits.push(event.request.url);
      void cdp.send('Fetch.fulfillRequest', {
        requestId: event.requestId,
        responseCode: 200,
        responseHeaders: [{ name: 'Content-Type', value: 'text/html; charset=utf-8' }],
        body: Buffer.from('<!doctype html><title>RP</title><h1>RP</h1>').toString('base64'),
      });
    });
    await cdp.send('Fetch.enable', { patterns: [{ urlPattern: `${RP_ORIGIN}/*`, requestStage: 'Request' }] });
    return { page, rpVisits, problems };
  }

  it('signs the DingTalk client’s user in without a click and returns to the relying party', async function () {
    const { emulator } = world;
    emulator.state.setClientUser(LINA.userid);
    emulator.state.resetCalls();
    const tab = await openTab(DINGTALK_IPHONE);
    const request = await authorize(rp);
    await tab.page.goto(request.url.toString());
    await tab.page.waitForURL(`${rp.redirectUri}?**`);

    expect(tab.rpVisits).to.have.length(1);
    const callback = new URL(tab.rpVisits[0]!);
    expect(callback.searchParams.get('state')).to.equal(request.state);
    const tokens = await exchangeCode(rp, callback, request);
    const info = await oidc.fetchUserInfo(rp.config, tokens.access_token, tokens.claims()!.sub);
    expect(info).to.include({ name: '李娜', dingtalk_union_id: LINA.unionid, dingtalk_user_id: LINA.userid });

    // The code came from the JSAPI stand-in and was resolved once; DingTalk's login page was never shown.
    expect(emulator.state.countCalls(JSAPI_PATH, 'GET')).to.equal(1);
    expect(emulator.state.countCalls('/topapi/v2/user/getuserinfo', 'POST')).to.equal(1);
    expect(emulator.state.countCalls('/oauth2/auth')).to.equal(0);
    const violations = await tab.page.evaluate<string[]>('globalThis.__cspViolations ?? []');
    expect(violations).to.deep.equal([]);
    expect(tab.problems).to.deep.equal([]);
  });

  it('outside the DingTalk client offers the DingTalk button and loads no JSAPI', async function () {
    const { emulator } = world;
    emulator.state.resetCalls();
    const tab = await openTab('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36');
    await tab.page.goto((await authorize(rp)).url.toString());
    await tab.page.waitForLoadState('load');
    expect(await tab.page.getByRole('link', { name: '使用钉钉登录', exact: true }).count()).to.equal(1);
    expect(emulator.state.countCalls(JSAPI_PATH)).to.equal(0);
    expect(tab.rpVisits).to.deep.equal([]);
  });
});
