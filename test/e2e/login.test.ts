/**
 * End to end in a real browser: headless Chromium (Debian's /usr/bin/chromium, driven by
 * playwright-core) clicks through login, consent and logout against the whole product and the
 * DingTalk emulator on loopback, on real Postgres and Redis, once in Chinese on a phone-sized
 * viewport and once in English on a laptop-sized one. The relying party is not served: its URLs
 * (https://rp.example.test/…) are answered inside the browser by `page.route`, and the code that
 * arrives there is exchanged with openid-client.
 *
 * Each page is checked for its language, one h1, accessible names on every button and link, and
 * no console errors or CSP violations; a screenshot of each lands in test/e2e/screenshots/
 * (git-ignored) as `<lang>-<step>.png`.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { controlsOf, CSP_LISTENER, escapeRegExp, launchChromium } from '../helpers/chromium.js';
import * as oidc from 'openid-client';
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { SCOPE_TEXT } from '../../src/errors/messages.js';
import { resetState } from '../helpers/bootstrap.js';
import {
  authorize,
  exchangeCode,
  type LoginWorld,
  registerRelyingParty,
  type RelyingParty,
  startLoginWorld,
  USERS,
} from '../helpers/login-flow.js';

// The project compiles without the DOM lib; the one browser global used in a page function.
declare const document: { activeElement: unknown };

const SCREENSHOTS = path.join(import.meta.dirname, 'screenshots');
const RP_ORIGIN = 'https://rp.example.test';
const LOGGED_OUT = `${RP_ORIGIN}/logged-out`;
const RP_PAGE = '<!doctype html><html lang="en"><title>Relying party</title><h1>Relying party</h1></html>';
const SCOPES = ['openid', 'profile', 'email', 'phone', 'roles', 'dingtalk'];

interface Language {
  /** File-name prefix of the screenshots, and the page language we expect. */
  lang: 'zh-CN' | 'en';
  device: string;
  context: BrowserContextOptions;
  text: {
    loginTitle: string;
    loginButton: string;
    pickerTitle: string;
    consentTitle: string;
    allow: string;
    logoutTitle: string;
    signOut: string;
    loggedOutTitle: string;
    errorTitle: string;
    notAMember: string;
    tryAgain: string;
    backToApp: string;
  };
}

const LANGUAGES: Language[] = [
  {
    lang: 'zh-CN',
    device: 'phone 390×844',
    context: {
      locale: 'zh-CN',
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    },
    text: {
      loginTitle: '登录',
      loginButton: '使用钉钉登录',
      pickerTitle: '选择要登录的钉钉账号',
      consentTitle: '授权确认',
      allow: '同意',
      logoutTitle: '退出登录',
      signOut: '退出登录',
      loggedOutTitle: '已退出登录',
      errorTitle: '无法登录',
      notAMember: '您的钉钉账号不属于本组织，无法登录此应用。',
      tryAgain: '使用其他账号登录',
      backToApp: '返回应用',
    },
  },
  {
    lang: 'en',
    device: 'laptop 1280×800',
    context: { locale: 'en-US', viewport: { width: 1280, height: 800 } },
    text: {
      loginTitle: 'Sign in',
      loginButton: 'Sign in with DingTalk',
      pickerTitle: 'Choose the DingTalk account to sign in with',
      consentTitle: 'Allow access',
      allow: 'Allow',
      logoutTitle: 'Sign out',
      signOut: 'Sign out',
      loggedOutTitle: 'Signed out',
      errorTitle: 'You cannot sign in',
      notAMember: 'Your DingTalk account is not a member of this organisation, so it cannot sign in here.',
      tryAgain: 'Use another account',
      backToApp: 'Back to the application',
    },
  },
];

/** One browser tab of a test: the page, what it printed, and the relying party URLs it reached. */
interface Tab {
  context: BrowserContext;
  page: Page;
  console: string[];
  rpVisits: string[];
}

describe('e2e: login, consent and logout in headless Chromium', function () {
  this.timeout(30_000);

  let browser: Browser;
  let world: LoginWorld;
  let tab: Tab | undefined;

  before(async function () {
    mkdirSync(SCREENSHOTS, { recursive: true });
    await resetState();
    [browser, world] = await Promise.all([launchChromium(), startLoginWorld()]);
  });

  after(async function () {
    await browser?.close();
    await world?.close();
  });

  afterEach(async function () {
    if (tab && this.currentTest?.state === 'failed') {
      const name = `failed-${this.currentTest
        .fullTitle()
        .replace(/[^\w-]+/g, '-')
        .slice(0, 120)}.png`;
      await tab.page.screenshot({ path: path.join(SCREENSHOTS, name), fullPage: true }).catch(() => undefined);
    }
    await tab?.context.close();
    tab = undefined;
  });

  async function openTab(language: Language): Promise<Tab> {
    const context = await browser.newContext({ ...language.context, serviceWorkers: 'block' });
    context.setDefaultTimeout(10_000);
    await context.addInitScript(CSP_LISTENER);
    const page = await context.newPage();
    const opened: Tab = { context, page, console: [], rpVisits: [] };
    page.on('console', (message) => {
      const text = message.text();
      // Chromium logs a non-2xx document as a failed resource (the error page's 403 is asserted on
      // its own), and the /favicon.ico it asks for by itself where a page names no icon (the emulator).
      const failedUrl = /^Failed to load resource: the server responded with a status of \d+/.test(text)
        ? message.location().url
        : undefined;
      if (failedUrl !== undefined && (failedUrl === page.url() || new URL(failedUrl).pathname === '/favicon.ico')) return;
      if (message.type() === 'error' || message.type() === 'warning' || /content security policy/i.test(text)) {
        opened.console.push(`console.${message.type()} at ${page.url()}: ${text}`);
      }
    });
    page.on('pageerror', (error) => opened.console.push(`uncaught at ${page.url()}: ${error.message}`));
    // The relying party is not served: its URLs get a tiny page inside the browser, and each URL is
    // remembered. Through the DevTools protocol's Fetch domain rather than page.route(), because the
    // browser only ever reaches the relying party by a redirect (303 from /auth or from the logout
    // confirmation), and playwright's routes are not called for redirect hops (its documented limit:
    // "the handler will only be called for the first url if the response is a redirect").
    const cdp = await context.newCDPSession(page);
    cdp.on('Fetch.requestPaused', (event) => {
      const isDocument = event.resourceType === 'Document';
      if (isDocument) opened.rpVisits.push(event.request.url);
      void cdp
        .send('Fetch.fulfillRequest', {
          requestId: event.requestId,
          responseCode: isDocument ? 200 : 404,
          responseHeaders: [{ name: 'Content-Type', value: 'text/html; charset=utf-8' }],
          body: Buffer.from(isDocument ? RP_PAGE : '').toString('base64'),
        })
        .catch((error: unknown) => opened.console.push(`relying party page not served: ${String(error)}`));
    });
    await cdp.send('Fetch.enable', { patterns: [{ urlPattern: `${RP_ORIGIN}/*`, requestStage: 'Request' }] });
    tab = opened;
    return opened;
  }

  /**
   * The checks every page of ours (and the emulator's) gets, then its screenshot: the page
   * language, exactly one h1 with the expected text, an accessible name on every button and link,
   * nothing on the console and no CSP violation.
   */
  async function checkPage(current: Tab, language: Language, step: string, heading: string, controls = true): Promise<void> {
    const { page } = current;
    await page.waitForLoadState('load');
    expect(await page.locator('html').getAttribute('lang'), `${step}: <html lang>`).to.equal(language.lang);
    const h1 = page.locator('h1');
    expect(await h1.count(), `${step}: exactly one h1`).to.equal(1);
    expect((await h1.innerText()).trim(), `${step}: h1 (page: ${await page.locator('body').innerText()})`).to.equal(heading);

    const found = await controlsOf(page);
    if (controls) expect(found.length, `${step}: has buttons or links`).to.be.greaterThan(0);
    const unnamed = found.filter((control) => control.name === '');
    expect(unnamed, `${step}: buttons and links without an accessible name`).to.deep.equal([]);

    const violations = await page.evaluate<string[]>('globalThis.__cspViolations ?? []');
    expect(violations, `${step}: CSP violations`).to.deep.equal([]);
    expect(current.console, `${step}: console errors and warnings`).to.deep.equal([]);

    await page.screenshot({ path: path.join(SCREENSHOTS, `${language.lang}-${step}.png`), fullPage: true });
  }

  /** page.waitForURL, but a timeout says where the browser is and what it shows. */
  async function arrive(current: Tab, url: string | RegExp): Promise<void> {
    try {
      await current.page.waitForURL(url);
    } catch (error) {
      const shows = await current.page
        .locator('body')
        .innerText({ timeout: 1000 })
        .catch(() => '(no body)');
      throw new Error(
        `expected to arrive at ${String(url)}, the browser is at ${current.page.url()} showing: ${shows.slice(0, 400)}; ` +
          `relying party visits: ${JSON.stringify(current.rpVisits)}; console: ${JSON.stringify(current.console)}`,
        { cause: error },
      );
    }
  }

  /** From the authorization URL through our login page to the emulator's picker. */
  async function throughLoginPage(current: Tab, language: Language, rp: RelyingParty, url: URL): Promise<void> {
    const { page } = current;
    const t = language.text;
    await page.goto(url.toString());
    expect(page.url()).to.match(new RegExp(`^${escapeRegExp(world.server.issuer)}/interaction/[^/]+$`));
    await checkPage(current, language, 'login', t.loginTitle);
    expect(await page.locator('.lead').innerText(), 'the login page names the application').to.contain('Grafana');

    const signIn = page.getByRole('link', { name: t.loginButton, exact: true });
    expect(await signIn.count(), 'one sign-in link').to.equal(1);
    expect(await signIn.getAttribute('href')).to.match(/^\/interaction\/[^/]+\/dingtalk$/);
    // Reachable with the keyboard: Tab lands on it within a few presses.
    let focused = false;
    for (let presses = 0; presses < 6 && !focused; presses++) {
      await page.keyboard.press('Tab');
      focused = await signIn.evaluate((element) => element === document.activeElement);
    }
    expect(focused, 'the sign-in link takes keyboard focus').to.equal(true);

    await signIn.click();
    await arrive(current, `${world.dingtalk.url}/**`);
    await checkPage(current, language, 'picker', t.pickerTitle);
  }

  for (const language of LANGUAGES) {
    const t = language.text;

    describe(`${language.lang} on a ${language.device}`, function () {
      let rp: RelyingParty;

      before(async function () {
        // Its own application per language, so consent is asked again.
        rp = await registerRelyingParty(world, { name: 'Grafana' });
      });

      it('signs in with DingTalk, consents, gets tokens, and signs out', async function () {
        const current = await openTab(language);
        const { page } = current;
        const request = await authorize(rp, { scope: SCOPES.join(' ') });
        await throughLoginPage(current, language, rp, request.url);

        await page.getByRole('button', { name: /^王建国/ }).click();
        await arrive(current, new RegExp(`^${escapeRegExp(world.server.issuer)}/interaction/[^/]+$`));
        await checkPage(current, language, 'consent', t.consentTitle);
        expect(await page.locator('.lead').innerText()).to.contain('Grafana');
        const scopeTitles = (await page.locator('.scopes .scope-title').allInnerTexts()).map((s) => s.trim());
        for (const scope of SCOPES) {
          expect(scopeTitles, `the ${scope} scope in plain words`).to.include(SCOPE_TEXT[scope]![language.lang]);
        }
        expect(
          scopeTitles.filter((title) => SCOPES.includes(title)),
          'no raw scope names',
        ).to.deep.equal([]);
        expect(await page.locator('main').innerText()).to.contain('王建国');

        await page.getByRole('button', { name: t.allow, exact: true }).click();
        await arrive(current, `${rp.redirectUri}?**`);
        expect(current.rpVisits).to.have.length(1);
        const callback = new URL(current.rpVisits[0]!);
        expect(callback.searchParams.get('code')).to.be.a('string').and.not.equal('');
        expect(callback.searchParams.get('state')).to.equal(request.state);

        const tokens = await exchangeCode(rp, callback, request);
        const claims = tokens.claims()!;
        expect(claims.iss).to.equal(world.server.issuer);
        expect(claims.aud).to.equal(rp.clientId);
        const info = await oidc.fetchUserInfo(rp.config, tokens.access_token, claims.sub);
        expect(info).to.include({ name: '王建国', dingtalk_union_id: USERS.admin });

        // RP-initiated logout, confirmed on our page, back to the application.
        const endSession = oidc.buildEndSessionUrl(rp.config, {
          id_token_hint: tokens.id_token!,
          post_logout_redirect_uri: LOGGED_OUT,
          state: 'bye',
        });
        await page.goto(endSession.toString());
        expect(page.url().startsWith(`${world.server.issuer}/session/end`)).to.equal(true);
        await checkPage(current, language, 'logout', t.logoutTitle);
        await page.getByRole('button', { name: t.signOut, exact: true }).click();
        await arrive(current, `${LOGGED_OUT}?**`);
        expect(page.url()).to.equal(`${LOGGED_OUT}?state=bye`);

        // The session is gone from this browser: a silent authorization asks for a login again.
        const silent = await authorize(rp, { prompt: 'none' });
        await page.goto(silent.url.toString());
        await arrive(current, `${rp.redirectUri}?**`);
        expect(new URL(page.url()).searchParams.get('error')).to.equal('login_required');

        // Our own "signed out" page: a logout that names no application to go back to (with no
        // session left there is nothing to confirm; oidc-provider posts the form by itself).
        await page.goto(`${world.server.issuer}/session/end`);
        await arrive(current, `${world.server.issuer}/session/end/success**`);
        await checkPage(current, language, 'logged-out', t.loggedOutTitle, false);
      });

      it('shows a readable error to someone outside the organisation, and goes back with access_denied', async function () {
        const current = await openTab(language);
        const { page } = current;
        const request = await authorize(rp);
        await throughLoginPage(current, language, rp, request.url);

        const [response] = await Promise.all([
          page.waitForResponse((answer) => answer.url().startsWith(`${world.server.issuer}/dingtalk/callback`)),
          page.getByRole('button', { name: /^孙丽/ }).click(),
        ]);
        await page.waitForLoadState('load');
        expect(response.status()).to.equal(403);
        await checkPage(current, language, 'error', t.errorTitle);
        expect(await page.locator('main').innerText()).to.contain(t.notAMember);

        const retry = page.getByRole('link', { name: t.tryAgain, exact: true });
        expect(await retry.getAttribute('href')).to.match(/^\/interaction\/[^/]+$/);
        const back = page.getByRole('link', { name: t.backToApp, exact: true });
        expect(await back.isVisible()).to.equal(true);
        await back.click();
        await arrive(current, `${rp.redirectUri}?**`);
        const answer = new URL(page.url());
        expect(answer.searchParams.get('error')).to.equal('access_denied');
        expect(answer.searchParams.get('state')).to.equal(request.state);
      });
    });
  }
});
