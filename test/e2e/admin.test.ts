/**
 * The admin console end to end in a real browser: headless Chromium (Debian's /usr/bin/chromium,
 * driven by playwright-core) against the whole product and the DingTalk emulator on loopback, on
 * real Postgres and Redis, in English on a laptop-sized viewport (1280×800).
 *
 * 李娜 (auditor) signs in to the console in a second browser context, so there is a session to
 * revoke. Then 王建国 (admin through ADMIN_DINGTALK_USERIDS) signs in through the emulator's picker
 * and, clicking like a person would: creates a role, previews a rule for it (the preview names the
 * matching account) and saves it, assigns the role to an account, registers a Grafana application
 * from its preset and edits its name and access policy, revokes 李娜's session, and finds the audit
 * entry of each step on the audit page.
 *
 * Every page is checked for its language, exactly one h1, an accessible name on every button and
 * link, no console errors and no CSP violations; a screenshot of each lands in
 * test/e2e/screenshots/ (git-ignored) as `admin-<page>.png`, and the dashboard and accounts list
 * once more at phone size (390×844) as `admin-phone-<page>.png`.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { controlsOf, CSP_LISTENER, escapeRegExp, launchChromium } from '../helpers/chromium.js';
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import type { LoginWorld } from '../helpers/login-flow.js';
import { AUDITOR_USERID, startAdminWorld } from '../integration/admin/harness.js';

const SCREENSHOTS = path.join(import.meta.dirname, 'screenshots');
const LAPTOP: BrowserContextOptions = { locale: 'en-US', viewport: { width: 1280, height: 800 } };
const PHONE: BrowserContextOptions = {
  locale: 'en-US',
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
};

interface Tab {
  context: BrowserContext;
  page: Page;
  console: string[];
  /** The language its pages must be in (`<html lang>`). */
  lang: 'en' | 'zh-CN';
}

describe('e2e: the admin console in headless Chromium', function () {
  this.timeout(40_000);

  let browser: Browser;
  let world: LoginWorld;
  let issuer: string;
  const tabs: Tab[] = [];
  let admin: Tab;

  before(async function () {
    mkdirSync(SCREENSHOTS, { recursive: true });
    [browser, world] = await Promise.all([launchChromium(), startAdminWorld()]);
    issuer = world.server.issuer;
  });

  after(async function () {
    for (const tab of tabs) await tab.context.close().catch(() => undefined);
    await browser?.close();
    await world?.close();
  });

  afterEach(async function () {
    if (admin && this.currentTest?.state === 'failed') {
      const name = `failed-admin-${this.currentTest.title.replace(/[^\w-]+/g, '-').slice(0, 100)}.png`;
      await admin.page.screenshot({ path: path.join(SCREENSHOTS, name), fullPage: true }).catch(() => undefined);
    }
  });

  async function openTab(options: BrowserContextOptions): Promise<Tab> {
    const context = await browser.newContext({ ...options, serviceWorkers: 'block' });
    context.setDefaultTimeout(10_000);
    await context.addInitScript(CSP_LISTENER);
    const page = await context.newPage();
    const opened: Tab = { context, page, console: [], lang: options.locale === 'zh-CN' ? 'zh-CN' : 'en' };
    page.on('console', (message) => {
      const text = message.text();
      // Chromium asks for /favicon.ico by itself where a page names no icon (the emulator).
      const failedUrl = /^Failed to load resource: the server responded with a status of \d+/.test(text)
        ? message.location().url
        : undefined;
      if (failedUrl !== undefined && new URL(failedUrl).pathname === '/favicon.ico') return;
      if (message.type() === 'error' || message.type() === 'warning' || /content security policy/i.test(text)) {
        opened.console.push(`console.${message.type()} at ${page.url()}: ${text}`);
      }
    });
    page.on('pageerror', (error) => opened.console.push(`uncaught at ${page.url()}: ${error.message}`));
    tabs.push(opened);
    return opened;
  }

  /**
   * The checks every page gets, then its screenshot: English, exactly one h1 with the expected
   * text, an accessible name on every button and link, nothing on the console, no CSP violation,
   * and nothing wider than the viewport.
   */
  async function checkPage(tab: Tab, shot: string | undefined, heading: string | RegExp): Promise<void> {
    const { page } = tab;
    await page.waitForLoadState('load');
    expect(await page.locator('html').getAttribute('lang'), `${shot}: <html lang>`).to.equal(tab.lang);
    const h1 = page.locator('h1');
    expect(await h1.count(), `${shot}: exactly one h1`).to.equal(1);
    const h1Text = (await h1.innerText()).trim();
    if (typeof heading === 'string') expect(h1Text, `${shot}: h1`).to.equal(heading);
    else expect(h1Text, `${shot}: h1`).to.match(heading);

    const found = await controlsOf(page);
    expect(found.length, `${shot}: has buttons or links`).to.be.greaterThan(0);
    expect(
      found.filter((control) => control.name === ''),
      `${shot}: buttons and links without an accessible name`,
    ).to.deep.equal([]);

    const violations = await page.evaluate<string[]>('globalThis.__cspViolations ?? []');
    expect(violations, `${shot}: CSP violations`).to.deep.equal([]);
    expect(tab.console, `${shot}: console errors and warnings`).to.deep.equal([]);

    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    expect(overflow, `${shot}: the page scrolls sideways`).to.be.at.most(0);

    if (shot) await page.screenshot({ path: path.join(SCREENSHOTS, `admin-${shot}.png`), fullPage: true });
  }

  /** page.waitForURL, but a timeout says where the browser is and what it shows. */
  async function arrive(tab: Tab, url: string | RegExp): Promise<void> {
    try {
      await tab.page.waitForURL(url);
    } catch (error) {
      const shows = await tab.page
        .locator('body')
        .innerText({ timeout: 1000 })
        .catch(() => '(no body)');
      throw new Error(
        `expected to arrive at ${String(url)}, the browser is at ${tab.page.url()} showing: ${shows.slice(0, 400)}; console: ${JSON.stringify(tab.console)}`,
        {
          cause: error,
        },
      );
    }
  }

  /** /admin → the console's sign-in → our login page → the emulator's picker → `person` → /admin. */
  async function consoleSignIn(tab: Tab, person: RegExp, check: boolean): Promise<void> {
    const { page } = tab;
    await page.goto(`${issuer}/admin`);
    if (check) await checkPage(tab, 'landing', 'Admin console');
    await page.getByRole('link', { name: 'Sign in with DingTalk', exact: true }).click();
    await arrive(tab, new RegExp(`^${escapeRegExp(issuer)}/interaction/[^/]+$`));
    await page.getByRole('link', { name: 'Sign in with DingTalk', exact: true }).click();
    await arrive(tab, `${world.dingtalk.url}/**`);
    await page.getByRole('button', { name: person }).click();
    await arrive(tab, `${issuer}/admin`);
  }

  const nav = (name: string) => admin.page.getByRole('navigation', { name: 'Admin console' }).getByRole('link', { name, exact: true });
  const done = async (text: string) => expect(await admin.page.getByRole('status').innerText()).to.equal(text);

  it('signs an auditor in from a second browser, and the admin through the emulator picker', async function () {
    const auditor = await openTab(LAPTOP);
    await consoleSignIn(auditor, /^李娜/, false);
    expect(await auditor.page.locator('.admin-header').innerText()).to.contain('李娜');

    admin = await openTab(LAPTOP);
    await consoleSignIn(admin, /^王建国/, true);
    await checkPage(admin, 'dashboard', 'Overview');
    expect(await admin.page.locator('.admin-header').innerText()).to.contain('王建国 (admin)');
    expect(await nav('Overview').getAttribute('aria-current')).to.equal('page');
  });

  it('lists and opens accounts', async function () {
    const { page } = admin;
    await nav('Accounts').click();
    await checkPage(admin, 'accounts', 'Accounts');
    const names = await page.locator('table.data tbody tr td:first-child').allInnerTexts();
    expect(names.map((n) => n.trim()).sort()).to.deep.equal(['李娜', '王建国'].sort());
    await page.getByRole('link', { name: '李娜', exact: true }).click();
    await checkPage(admin, 'account', /^李娜/);
    expect(await page.locator('main').innerText()).to.contain(AUDITOR_USERID);
  });

  it('creates a role, previews a rule with the accounts it matches, then saves it', async function () {
    const { page } = admin;
    await nav('Roles and rules').click();
    await checkPage(admin, undefined, 'Roles and rules');
    const create = page.locator('form[action="/admin/roles"]');
    await create.getByLabel('Role name').fill('ops');
    await create.getByLabel('Description').fill('Operations on call');
    await create.getByRole('button', { name: 'Create' }).click();
    await arrive(admin, /\/admin\/roles\?done=/);
    await done('The role is created.');

    const rule = page.locator('form[action="/admin/roles/rules/preview"]');
    await rule.locator('select[name="role"]').selectOption('ops');
    await rule.locator('select[name="kind"]').selectOption('users');
    await rule.getByLabel(/^Value/).fill(AUDITOR_USERID);
    await rule.getByLabel('Description').fill('李娜 is on call');
    await checkPage(admin, 'roles', 'Roles and rules');
    await rule.getByRole('button', { name: 'Preview' }).click();
    await arrive(admin, `${issuer}/admin/roles/rules/preview`);
    await checkPage(admin, 'rule-preview', 'Rule preview');
    expect(await page.locator('.lead').innerText()).to.contain('the role ops goes to these active accounts (1)');
    expect(await page.locator('table.data tbody').innerText()).to.contain('李娜');
    expect(await page.locator('table.data tbody').innerText()).not.to.contain('王建国');
    expect(await world.server.services.roles.listRules()).to.have.length(1); // nothing saved yet

    await page.getByRole('button', { name: 'Save the rule' }).click();
    await arrive(admin, /\/admin\/roles\?done=/);
    await done('The rule is saved; matching accounts have the role now.');
    const rules = page.locator('table.data').nth(1);
    expect(await rules.innerText()).to.contain(AUDITOR_USERID);
    expect(await rules.innerText()).to.contain('李娜 is on call');
  });

  it('assigns a role to an account by hand', async function () {
    const { page } = admin;
    await nav('Accounts').click();
    await page.getByRole('link', { name: '王建国', exact: true }).click();
    await arrive(admin, /\/admin\/accounts\/[^/?]+$/);
    const assign = page.locator('form[action="/admin/roles/assign"]');
    await assign.getByRole('combobox', { name: /^Role/ }).selectOption('ops');
    await assign.getByRole('button', { name: 'Assign role' }).click();
    await arrive(admin, /\/admin\/accounts\/[^/?]+\?done=assign$/);
    const roles = page.locator('section', { has: page.getByRole('heading', { name: 'Roles', exact: true }) }).locator('table.data');
    const row = roles.locator('tr', { hasText: 'ops' });
    expect(await row.innerText()).to.contain('assigned by hand');
    await checkPage(admin, 'account-detail', /^王建国/);
  });

  it('registers Grafana from its preset, then edits its name and access policy', async function () {
    const { page } = admin;
    await nav('Applications').click();
    await checkPage(admin, undefined, 'Applications');
    const register = page.locator('form[action="/admin/clients"][method="post"]');
    await register.locator('select[name="preset"]').selectOption('grafana');
    await register.getByLabel(/^Application URL/).fill('https://grafana.example.test');
    await register.getByRole('button', { name: 'Create' }).click();
    await checkPage(admin, 'client-secret', 'Client secret');
    expect(await page.locator('#client-secret').innerText()).to.match(/^[A-Za-z0-9_-]{43}$/);
    const clientId = (await page.locator('.facts dd code').first().innerText()).trim();

    await page.getByRole('link', { name: 'Back', exact: true }).click();
    await arrive(admin, `${issuer}/admin/clients/${encodeURIComponent(clientId)}`);
    const form = page.locator(`form[action="/admin/clients/${clientId}"]`);
    expect(await form.getByLabel(/^Redirect URIs/).inputValue()).to.contain('https://grafana.example.test/login/generic_oauth');
    await form.getByLabel('Name', { exact: true }).fill('Grafana (ops)');
    await form.getByLabel(/^Allowed roles/).fill('ops');
    await form.getByRole('button', { name: 'Save' }).click();
    await arrive(admin, /\/admin\/clients\/[^/?]+\?done=/);
    await done('Saved.');
    expect(await page.locator('h1').innerText()).to.contain('Grafana (ops)');
    expect(await form.getByLabel(/^Allowed roles/).inputValue()).to.equal('ops');
    await checkPage(admin, 'client', /^Grafana \(ops\)/);
    const client = (await world.server.services.clientStore.get(clientId))!;
    expect(client.metadata.access_policy).to.deep.include({ roles: ['ops'] });

    await nav('Applications').click();
    await checkPage(admin, 'clients', 'Applications');
    expect(await page.locator('table.data').first().innerText()).to.contain('Grafana (ops)');
  });

  it('revokes a session', async function () {
    const { page } = admin;
    await nav('Sessions and consents').click();
    await checkPage(admin, 'sessions', 'Sessions and consents');
    const sessions = page.locator('section', { has: page.getByRole('heading', { name: 'Sessions', exact: true }) });
    const row = sessions.locator('tbody tr', { hasText: '李娜' });
    expect(await row.count(), '李娜 has one session').to.equal(1);
    await row.getByRole('button', { name: 'Revoke', exact: true }).click();
    await arrive(admin, /\/admin\/sessions\?done=session_revoked/);
    await done('The session is ended: its apps’ tokens are revoked and apps with a back-channel logout URI were told.');
    expect(await sessions.locator('tbody tr', { hasText: '李娜' }).count()).to.equal(0);
    expect(await sessions.locator('tbody tr', { hasText: '王建国' }).count()).to.equal(1);
  });

  it('shows keys, the DingTalk checks and the page previews', async function () {
    const { page } = admin;
    await nav('Signing keys').click();
    await checkPage(admin, 'keys', 'Signing keys');
    expect(await page.locator('table.data tbody tr').count()).to.be.greaterThan(0);
    await nav('DingTalk').click();
    await checkPage(admin, 'dingtalk', 'DingTalk');
    expect(await page.locator('main').innerText()).to.contain('/dingtalk/events');
    await nav('Page previews').click();
    await checkPage(admin, 'previews', 'Page previews');
    await page.getByRole('link', { name: 'English' }).first().click();
    await page.waitForLoadState('load');
    expect(await page.locator('html').getAttribute('lang')).to.equal('en');
    expect(await page.locator('h1').count()).to.equal(1);
    expect(admin.console).to.deep.equal([]);
  });

  it('lists the DingTalk event inbox by status and retries a failed event', async function () {
    const { page } = admin;
    const { InboxEvent } = world.server.services.db.models;
    const now = new Date();
    const item = { transport: 'stream', corpId: 'dingtest', occurredAt: now, urgentDoneAt: now, nextAttemptAt: now, finishedAt: now };
    await InboxEvent.bulkCreate([
      {
        ...item,
        id: 'e2e-done',
        type: 'user_leave_org',
        userIds: ['0226103541652'],
        payload: {},
        status: 'done',
        reason: null,
        attempts: 1,
      },
      {
        ...item,
        id: 'http:e2e-unreadable',
        transport: 'http',
        type: null,
        payload: 'x',
        status: 'failed',
        reason: 'DeptId is not a list of department ids',
        attempts: 0,
      },
      {
        ...item,
        id: 'e2e-failed',
        type: 'org_dept_modify',
        departmentIds: [100, 101],
        payload: {},
        status: 'failed',
        reason: 'dingtalk.unavailable: DingTalk did not answer',
        attempts: 10,
      },
    ]);
    await page.goto(`${issuer}/admin`);
    await nav('Events').click();
    await checkPage(admin, 'events', 'Events');
    expect(await page.locator('table.data tbody tr').count()).to.equal(3);
    await page.getByRole('link', { name: /^Failed 2$/ }).click();
    await arrive(admin, /\/admin\/events\?status=failed$/);
    await checkPage(admin, 'events-failed', 'Events');
    const rows = page.locator('table.data tbody tr');
    expect(await rows.count()).to.equal(2);
    expect(await page.locator('main').innerText())
      .to.contain('DeptId is not a list of department ids')
      .and.contain('dingtalk.unavailable');
    // Only the readable one can be retried.
    const retry = page.getByRole('button', { name: /^Retry: org_dept_modify/ });
    expect(await page.getByRole('button', { name: /^Retry/ }).count()).to.equal(1);
    await retry.click();
    await arrive(admin, /\/admin\/events\?done=event_retried&status=failed$/);
    await done('The event is back in line; a worker takes it now.');
    expect(await InboxEvent.findByPk('e2e-failed')).to.not.equal(null);
  });

  it('reads the audit entry of every step, with the admin as actor', async function () {
    const { page } = admin;
    await page.goto(`${issuer}/admin`);
    await nav('Audit log').click();
    await checkPage(admin, 'audit', 'Audit log');
    const table = page.locator('table.data');
    const entry = (type: string) =>
      table.locator('tbody tr', { has: page.locator('td code', { hasText: new RegExp(`^${escapeRegExp(type)}$`) }) });
    const steps: Record<string, string> = {
      'role.created': 'ops',
      'role_rule.created': AUDITOR_USERID,
      'role.assigned': 'ops',
      'client.created': 'Grafana',
      'client.updated': '',
      'session.revoked': '',
      'inbox.retry': 'e2e-failed',
    };
    const adminId = (await world.server.services.db.models.Account.findOne({ where: { name: '王建国' } }))!.id;
    for (const [type, detail] of Object.entries(steps)) {
      const rows = entry(type);
      expect(await rows.count(), `audit entries of type ${type}`).to.be.at.least(1);
      const text = await rows.first().innerText();
      expect(text, type).to.contain(detail);
      const actor = rows.first().locator('td').nth(2).getByRole('link');
      expect(await actor.getAttribute('href'), `${type}: the actor links to the admin's account`).to.equal(`/admin/accounts/${adminId}`);
    }

    // The six filters and both buttons fit one row on a laptop.
    const tops = await page
      .locator('form.filters > label, form.filters > .button')
      .evaluateAll((nodes) => nodes.map((node) => Math.round(node.getBoundingClientRect().bottom)));
    expect(tops, 'the audit filters are one row at 1280 px').to.have.length(8);
    expect(Math.max(...tops) - Math.min(...tops), 'the audit filters are one row at 1280 px').to.be.at.most(4);

    // The filter narrows it to one kind of event.
    await page.getByLabel('Event type').fill('session.*');
    await page.getByRole('button', { name: 'Filter', exact: true }).click();
    await arrive(admin, /\/admin\/audit\?.*type=session\.\*/);
    const types = (await table.locator('tbody td:nth-child(2)').allInnerTexts()).map((t) => t.trim());
    expect(types).to.deep.equal(['session.revoked']);
  });

  it('speaks Chinese to a zh-CN browser on every console page, on a laptop and on a phone', async function () {
    this.timeout(90_000); // twelve pages on a laptop, four on a phone
    const state = await admin.context.storageState();
    const grafana = (await world.server.services.clientStore.list()).find((client) => client.name.startsWith('Grafana'))!;
    const pages: [string, string, string | RegExp][] = [
      ['/admin', 'dashboard', '概览'],
      ['/admin/accounts', 'accounts', '账号'],
      ['/admin/roles', 'roles', '角色与规则'],
      ['/admin/clients', 'clients', '应用'],
      [`/admin/clients/${encodeURIComponent(grafana.clientId)}`, 'client', /^Grafana/],
      ['/admin/sessions', 'sessions', '会话与授权'],
      ['/admin/audit', 'audit', '审计日志'],
      ['/admin/keys', 'keys', '签名密钥'],
      ['/admin/dingtalk', 'dingtalk', '钉钉'],
      ['/admin/events', 'events', '事件'],
      ['/admin/previews', 'previews', '页面预览'],
    ];
    const laptop = await openTab({ ...LAPTOP, locale: 'zh-CN', storageState: state });
    for (const [path, shot, heading] of pages) {
      await laptop.page.goto(`${issuer}${path}`);
      await checkPage(laptop, `zh-${shot}`, heading);
    }
    const phone = await openTab({ ...PHONE, locale: 'zh-CN', storageState: state });
    for (const [path, shot, heading] of pages.filter(([, shot]) => ['dashboard', 'audit', 'client', 'events'].includes(shot))) {
      await phone.page.goto(`${issuer}${path}`);
      await checkPage(phone, `zh-phone-${shot}`, heading);
    }
  });

  it('fits a phone: the dashboard and the accounts list at 390×844', async function () {
    const phone = await openTab({ ...PHONE, storageState: await admin.context.storageState() });
    await phone.page.goto(`${issuer}/admin`);
    await checkPage(phone, 'phone-dashboard', 'Overview');
    const navBox = await phone.page.getByRole('navigation', { name: 'Admin console' }).boundingBox();
    expect(navBox!.height, 'the navigation is one scrollable row on a phone').to.be.below(60);
    await phone.page.goto(`${issuer}/admin/accounts`);
    await checkPage(phone, 'phone-accounts', 'Accounts');
  });
});
