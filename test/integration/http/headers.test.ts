import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import Koa from 'koa';
import { securityHeaders } from '../../../src/http/middleware/security-headers.js';
import { resetState } from '../../helpers/bootstrap.js';
import { Browser, type Page } from '../../helpers/browser.js';
import {
  authorize,
  type LoginWorld,
  openDingTalkPicker,
  pickInDingTalk,
  registerRelyingParty,
  type RelyingParty,
  startLoginWorld,
  USERS,
} from '../../helpers/login-flow.js';

const DINGTALK_UA = 'Mozilla/5.0 (iPhone) AliApp(DingTalk/7.6.0) DingTalk(7.6.0)';

function directives(csp: string | null): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const directive of (csp ?? '').split(';')) {
    const [name, ...values] = directive.trim().split(/\s+/);
    if (name) map.set(name, values);
  }
  return map;
}

function nonceOf(csp: string | null): string {
  const nonce = directives(csp)
    .get('script-src')
    ?.find((value) => value.startsWith("'nonce-"));
  expect(nonce, `a nonce in ${csp}`).to.be.a('string');
  return nonce!.slice("'nonce-".length, -1);
}

describe('security headers, CSP nonces and cookies (real Postgres and Redis)', function () {
  let world: LoginWorld;
  let rp: RelyingParty;

  before(async function () {
    await resetState();
    world = await startLoginWorld({ trustProxy: true });
    rp = await registerRelyingParty(world, { firstParty: true });
  });

  after(async function () {
    await world?.close();
  });

  /** Walks /auth → /interaction/:uid by hand, keeping every Set-Cookie our issuer sent. */
  async function openLoginPage(browser: Browser): Promise<{ page: Page; cookies: string[] }> {
    const request = await authorize(rp);
    const cookies: string[] = [];
    let page = await browser.request(request.url.toString());
    cookies.push(...page.headers.getSetCookie());
    while (page.status >= 300 && page.status < 400) {
      page = await browser.request(new URL(page.headers.get('location')!, page.url).toString());
      cookies.push(...page.headers.getSetCookie());
    }
    return { page, cookies };
  }

  it('puts a fresh nonce in the CSP of every page and on our script tags; the DingTalk JSAPI is allowed by its exact URL only', async function () {
    const browser = new Browser({ 'user-agent': DINGTALK_UA });
    const { page } = await openLoginPage(browser);
    expect(page.status).to.equal(200);
    const csp = page.headers.get('content-security-policy');
    const nonce = nonceOf(csp);
    expect(nonce).to.match(/^[A-Za-z0-9+/]{22}==$/);
    const scripts = [...page.text.matchAll(/<script\b[^>]*>/g)].map(([tag]) => tag);
    expect(scripts).to.have.length(2);
    // DingTalk's script: no nonce (the CSP's exact URL is what allows it), SRI when configured.
    expect(scripts[0]).to.contain('src="https://g.alicdn.com/dingding/dingtalk-jsapi/3.0.25/dingtalk.open.js"').and.not.contain('nonce=');
    expect(scripts[1]).to.contain(`nonce="${nonce}"`);

    const d = directives(csp);
    expect(d.get('script-src')).to.include.members([
      "'self'",
      'https://g.alicdn.com/dingding/dingtalk-jsapi/3.0.25/dingtalk.open.js',
      `'nonce-${nonce}'`,
    ]);
    expect(d.get('script-src')).to.not.include('https://g.alicdn.com');
    expect(d.get('frame-ancestors')).to.deep.equal(["'none'"]);
    expect(d.get('object-src')).to.deep.equal(["'none'"]);
    expect(page.headers.get('x-frame-options')).to.equal('DENY');
    expect(page.headers.get('cache-control')).to.equal('no-store');
    expect(page.headers.get('strict-transport-security')).to.equal(null); // http issuer

    const again = await fetch(`${world.server.issuer}/`);
    expect(nonceOf(again.headers.get('content-security-policy'))).to.not.equal(nonce);
  });

  it('keeps oidc-provider adding the sha256 of its form_post script to script-src', async function () {
    const browser = new Browser();
    const request = await authorize(rp, { response_mode: 'form_post' });
    const picker = await openDingTalkPicker(world, browser, request.url);
    const page = await pickInDingTalk(world, browser, picker, USERS.admin);
    expect(page.status).to.equal(200);
    expect(page.text).to.contain(`action="${rp.redirectUri}"`).and.contain('name="code"');
    const script = /<script>([\s\S]*?)<\/script>/.exec(page.text)![1]!;
    const hash = `'sha256-${createHash('sha256').update(script).digest('base64')}'`;
    const scriptSrc = directives(page.headers.get('content-security-policy')).get('script-src')!;
    expect(scriptSrc).to.include(hash);
    expect(scriptSrc.some((value) => value.startsWith("'nonce-"))).to.equal(true);
    expect(directives(page.headers.get('content-security-policy')).get('frame-ancestors')).to.deep.equal(["'none'"]);
  });

  it('sets every cookie HttpOnly and SameSite, and Secure when the request came over TLS through the proxy', async function () {
    const browser = new Browser({ 'user-agent': DINGTALK_UA, 'x-forwarded-proto': 'https' });
    const { page, cookies } = await openLoginPage(browser);
    expect(page.status).to.equal(200);
    const dingtalk = await browser.request(`${world.server.issuer}${/href="(\/interaction\/[^"]+\/dingtalk)"/.exec(page.text)![1]}`);
    cookies.push(...dingtalk.headers.getSetCookie());
    const names = cookies.map((cookie) => cookie.split('=')[0]);
    expect(names).to.include.members(['_interaction', '__Host-csrf', '_dt_browser']);
    for (const cookie of cookies) {
      expect(cookie, cookie).to.match(/;\s*httponly/i);
      expect(cookie, cookie).to.match(/;\s*samesite=(lax|strict|none)/i);
      expect(cookie, cookie).to.match(/;\s*secure/i);
    }
  });

  it('marks pages with personal data no-store', async function () {
    for (const path of ['/interaction/unknown', '/dingtalk/callback?state=nope&authCode=x', '/admin/anything']) {
      const response = await fetch(`${world.server.issuer}${path}`, { redirect: 'manual' });
      expect(response.headers.get('cache-control'), path).to.equal('no-store');
    }
    const home = await fetch(`${world.server.issuer}/assets/app.css`);
    expect(home.headers.get('cache-control')).to.equal('public, max-age=3600');
  });
});

describe('security headers of an https issuer', function () {
  it('adds HSTS and upgrade-insecure-requests', async function () {
    const app = new Koa();
    app.use(securityHeaders({ https: true }));
    app.use((ctx) => {
      ctx.body = 'ok';
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      expect(response.headers.get('strict-transport-security')).to.equal('max-age=31536000; includeSubDomains');
      expect(directives(response.headers.get('content-security-policy')).has('upgrade-insecure-requests')).to.equal(true);
    } finally {
      server.close();
    }
  });
});
