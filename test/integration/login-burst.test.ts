/**
 * Sign-ins above DingTalk's per-API limit (issue #13): the emulator enforces DingTalk's 20 calls per
 * second per API, the call budget keeps us below it, and a person who finds DingTalk busy gets a
 * "please wait" page that continues the sign-in by itself — bounded, then "DingTalk unavailable".
 * Real Postgres and Redis.
 */
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { createCallBudget, isBudgetExhausted } from '../../src/dingtalk/call-budget.js';
import { Browser, decode, formOf, type Page } from '../helpers/browser.js';
import { resetState, TEST_REDIS_URL } from '../helpers/bootstrap.js';
import {
  exchangeCode,
  type LoginWorld,
  openDingTalkPicker,
  pickInDingTalk,
  authorize,
  registerRelyingParty,
  type RelyingParty,
  startLoginWorld,
  USERS,
} from '../helpers/login-flow.js';

const APP_KEY = 'dingtest-app'; // startLoginWorld's DingTalk app
const EXCHANGE = '/v1.0/oauth2/userAccessToken';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Another replica takes every slot of the code exchange (or of `api`) that the budget has right now. */
async function exhaustExchange(limits: { perApiPerSecond: number; perApiBurst: number }, api = EXCHANGE): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL);
  try {
    const replica = createCallBudget({ appKey: APP_KEY, limits: { ...limits, backgroundPerSecond: limits.perApiPerSecond }, redis });
    for (;;) {
      try {
        await replica.acquire({ api, priority: 'sign-in', maxWaitMs: 0 });
      } catch (error) {
        if (isBudgetExhausted(error)) return;
        throw error;
      }
    }
  } finally {
    redis.disconnect();
  }
}

/** Forget every slot taken (as if time had passed). */
async function freeBudget(): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL);
  try {
    const keys = await redis.keys('dingtalk:budget:*');
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
}

/** From the app's authorization URL to our DingTalk callback's answer. */
async function signInUntilCallback(world: LoginWorld, browser: Browser, rp: RelyingParty, unionId: string) {
  const request = await authorize(rp);
  const picker = await openDingTalkPicker(world, browser, request.url);
  const page = await pickInDingTalk(world, browser, picker, unionId);
  return { request, page };
}

const SLOW = { perApiPerSecond: 0.1, perApiBurst: 3 };
const FREE_LOGIN = '/topapi/v2/user/getuserinfo';
const IN_DINGTALK = { 'user-agent': 'Mozilla/5.0 (iPhone) AliApp(DingTalk/7.6.0) com.laiwang.DingTalk' };

/** Inside the DingTalk client: the login page's free-login form, posted with a fresh JSAPI code. */
async function postFreeLogin(world: LoginWorld, browser: Browser, loginPageUrl: string): Promise<Page> {
  const login = await browser.follow(loginPageUrl, [world.server.issuer]);
  const form = formOf(login.text, '/free-login');
  const code = world.emulator.state.issueFreeLoginCode('manager7421');
  return browser.follow(new URL(form.action, world.server.issuer).toString(), [world.server.issuer], { form: { ...form.fields, code } });
}

describe('sign-ins above DingTalk’s limit (emulator with its limit on, real Postgres and Redis)', function () {
  describe('the wait page', function () {
    let world: LoginWorld;
    let rp: RelyingParty;

    before(async function () {
      await resetState();
      world = await startLoginWorld({
        dingtalk: { callBudget: { ...SLOW, backgroundPerSecond: 0.1, signInCodeWaitMs: 0, signInQueueMs: 60_000 } },
      });
      rp = await registerRelyingParty(world, { firstParty: true });
    });
    after(async function () {
      await world?.close();
    });
    afterEach(freeBudget);

    it('asks the person to wait, in Chinese first, without using the code, and reloads by itself', async function () {
      await exhaustExchange(SLOW);
      const browser = new Browser();
      const { page } = await signInUntilCallback(world, browser, rp, USERS.admin);
      expect(page.url).to.contain('/dingtalk/callback');
      expect(page.status).to.equal(503);
      const seconds = Number(page.headers.get('retry-after'));
      expect(seconds).to.be.within(1, 10);
      expect(page.text).to.contain('请稍候').and.contain(`${seconds} 秒后自动继续`);
      expect(page.text).to.match(new RegExp(`<meta http-equiv="refresh" content="${seconds}">`));
      expect(page.text).to.contain('role="status"').and.contain('aria-live="polite"');
      expect(page.text).to.contain('/abort?error=temporarily_unavailable');
      expect(world.emulator.state.countCalls(EXCHANGE)).to.equal(0);
    });

    it('speaks English to a browser that prefers it', async function () {
      await exhaustExchange(SLOW);
      const { page } = await signInUntilCallback(world, new Browser({ 'accept-language': 'en-US,en;q=0.9' }), rp, USERS.boss);
      expect(page.status).to.equal(503);
      expect(page.text).to.contain('Please wait').and.contain('Many people are signing in right now');
    });

    it('finishes the sign-in when the page comes back and DingTalk has room', async function () {
      await exhaustExchange(SLOW);
      const browser = new Browser();
      const { request, page } = await signInUntilCallback(world, browser, rp, USERS.noEmail);
      expect(page.status).to.equal(503);
      // Its "continue now" link is the same callback URL (the meta refresh reloads it too).
      const retry = decode(/<a class="button" href="([^"]+)"/.exec(page.text)![1]!);
      expect(new URL(retry, world.server.issuer).toString()).to.equal(page.url);

      const stillBusy = await browser.request(page.url); // DingTalk still busy: the same page again
      expect(stillBusy.status).to.equal(503);

      await freeBudget();
      const done = await browser.follow(page.url, [world.server.issuer]);
      const location = done.headers.get('location') ?? '';
      expect(location.startsWith(rp.redirectUri), `${done.status} ${done.text.slice(0, 200)}`).to.equal(true);
      const tokens = await exchangeCode(rp, new URL(location), request);
      expect(tokens.claims()!.sub).to.be.a('string');
    });

    it('inside DingTalk (free login), waits and then goes back to the login page for a fresh code', async function () {
      await exhaustExchange(SLOW, FREE_LOGIN);
      const request = await authorize(rp);
      const browser = new Browser(IN_DINGTALK);
      const page = await postFreeLogin(world, browser, request.url.toString());
      expect(page.status).to.equal(503);
      const loginPage = /content="\d+;url=(\/interaction\/[^"]+)"/.exec(page.text)?.[1];
      expect(loginPage, page.text.slice(0, 400)).to.be.a('string');
      expect(world.emulator.state.countCalls(FREE_LOGIN)).to.equal(0);

      await freeBudget();
      const done = await postFreeLogin(world, browser, `${world.server.issuer}${decode(loginPage!)}`);
      const location = done.headers.get('location') ?? '';
      expect(location.startsWith(rp.redirectUri), `${done.status} ${done.text.slice(0, 200)}`).to.equal(true);
    });
  });

  describe('past the bound', function () {
    let world: LoginWorld;
    let rp: RelyingParty;

    before(async function () {
      await resetState();
      world = await startLoginWorld({
        dingtalk: { callBudget: { ...SLOW, backgroundPerSecond: 0.1, signInCodeWaitMs: 0, signInQueueMs: 0 } },
      });
      rp = await registerRelyingParty(world, { firstParty: true });
    });
    after(async function () {
      await world?.close();
      await freeBudget();
    });

    it('ends on the "DingTalk unavailable" page, with the way back to the application', async function () {
      await exhaustExchange(SLOW);
      const { page } = await signInUntilCallback(world, new Browser(), rp, USERS.admin);
      expect(page.status).to.equal(503);
      expect(page.text).to.contain('暂时无法连接钉钉').and.contain('dingtalk.unavailable');
      expect(page.text).not.to.contain('http-equiv="refresh"');
    });

    it('ends a free login on the same page', async function () {
      await exhaustExchange(SLOW, FREE_LOGIN);
      const request = await authorize(rp);
      const page = await postFreeLogin(world, new Browser(IN_DINGTALK), request.url.toString());
      expect(page.status).to.equal(503);
      expect(page.text).to.contain('dingtalk.unavailable').and.not.contain('http-equiv="refresh"');
    });
  });

  describe('a burst from one office address', function () {
    let world: LoginWorld;
    let rp: RelyingParty;

    before(async function () {
      await resetState();
      // Default abuse limits and DingTalk's own limit (20/s per API) in the emulator; the budget paced
      // at 5 calls/s per API, so that many of the 100 meet the wait page (at the default 15/s, how
      // many do depends on how fast this machine drives the browsers).
      world = await startLoginWorld({
        trustProxy: true,
        rateLimits: { enabled: true },
        dingtalk: { callBudget: { perApiPerSecond: 5, backgroundPerSecond: 5 } },
      });
      rp = await registerRelyingParty(world, { firstParty: true });
    });
    after(async function () {
      await world?.close();
    });

    it('signs everyone in, some after a wait page, with no throttled answer from DingTalk and no 429', async function () {
      this.timeout(120_000);
      const people = [USERS.admin, USERS.boss, USERS.noEmail];
      const statuses: number[] = [];
      const signIn = async (n: number): Promise<string> => {
        // Everyone comes from the same NAT address.
        const browser = new Browser({ 'x-forwarded-for': '203.0.113.7' });
        const request = await authorize(rp);
        const picker = await openDingTalkPicker(world, browser, request.url);
        let page: Page = await pickInDingTalk(world, browser, picker, people[n % people.length]!);
        while (page.status === 503 && page.text.includes('http-equiv="refresh"')) {
          await sleep(Number(page.headers.get('retry-after')) * 1000);
          page = await browser.follow(page.url, [world.server.issuer]);
        }
        statuses.push(page.status);
        const location = page.headers.get('location') ?? '';
        if (!location.startsWith(rp.redirectUri))
          throw new Error(
            `person ${n}: ${page.status} at ${page.url}: ${/<code>([^<]*)<\/code>/.exec(page.text)?.[1] ?? page.text.slice(0, 300)}`,
          );
        return location;
      };
      // 100 people × 6 requests each from one address: more than the old 600 per minute per address.
      const locations = await Promise.all(Array.from({ length: 100 }, (_, n) => signIn(n)));
      expect(locations).to.have.length(100);
      expect(statuses.filter((status) => status === 429)).to.deep.equal([]);
      const metrics = await world.server.services.metrics.registry.getSingleMetricAsString('dingtalk_api_calls_total');
      expect(metrics).not.to.match(/outcome="throttled"/);
      expect(metrics).to.match(/api="\/v1\.0\/oauth2\/userAccessToken",outcome="ok"\} 100/);
    });
  });
});
