import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import Koa from 'koa';
import mount from 'koa-mount';
import Provider from 'oidc-provider';
import { createDemoRouter, DEMO_COOKIE, DEMO_SCOPE } from '../../../src/demo/routes.js';
import { createPageRenderer } from '../../../src/ui/pages.js';

// The demo relying party against a real oidc-provider 9 on 127.0.0.1:0, mounted after the demo's
// routes exactly as app.ts mounts ours. devInteractions (any login, one consent click) stands in
// for DingTalk sign-in, and only in this file.

const CLIENT_ID = 'demo-rp';
const CLIENT_SECRET = 'demo-rp-secret-that-is-long-enough-for-hs256';
const COOKIE_KEYS = ['demo-test-cookie-key-0123456789'];
const EN = 'en-US,en;q=0.9';

interface Issuer {
  issuer: string;
  /** While true, everything the demo does not answer gets a 503 (the provider is "down"). */
  down: boolean;
  close(): Promise<void>;
}

async function listen(handler?: http.RequestListener): Promise<{ server: http.Server; origin: string }> {
  const server = http.createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function shut(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

async function startIssuer(): Promise<Issuer> {
  const { server, origin: issuer } = await listen();
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: [`${issuer}/demo/callback`],
        post_logout_redirect_uris: [`${issuer}/demo`],
        grant_types: ['authorization_code', 'refresh_token'],
      },
    ],
    cookies: { keys: COOKIE_KEYS },
    claims: { openid: ['sub'], profile: ['name'], email: ['email', 'email_verified'] },
    findAccount: async (_ctx, sub) => ({
      accountId: sub,
      claims: async () => ({ sub, name: '<b>Alice</b> & "co"', email: 'alice@example.test', email_verified: true }),
    }),
    features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  });
  const state: Issuer = {
    issuer,
    down: false,
    close: () => shut(server),
  };
  const app = new Koa();
  app.keys = [...COOKIE_KEYS];
  app.silent = true;
  const router = createDemoRouter({
    issuer,
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    cookieKeys: COOKIE_KEYS,
    pages: createPageRenderer(),
  });
  app.use(router.routes());
  app.use(router.allowedMethods());
  app.use(async (ctx, next) => {
    if (state.down) {
      ctx.status = 503;
      ctx.body = 'down';
      return;
    }
    await next();
  });
  app.use(mount(provider as unknown as Koa));
  const handle = app.callback();
  // Koa answers its own errors (ctx.onerror), so the request's promise never rejects.
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => void handle(req, res));
  return state;
}

/** A demo whose issuer is somewhere else (unreachable or hanging), on its own port. */
async function startDemoOnly(issuer: string, timeoutSeconds?: number): Promise<{ origin: string; close(): Promise<void> }> {
  const app = new Koa();
  app.keys = [...COOKIE_KEYS];
  app.silent = true;
  const router = createDemoRouter({
    issuer,
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    cookieKeys: COOKIE_KEYS,
    pages: createPageRenderer(),
    ...(timeoutSeconds === undefined ? {} : { timeoutSeconds }),
  });
  app.use(router.routes());
  const handle = app.callback();
  const { server, origin } = await listen((req, res) => void handle(req, res)); // never rejects, as above
  return { origin, close: () => shut(server) };
}

interface SetCookie {
  name: string;
  value: string;
  attributes: Record<string, string>;
  raw: string;
}

function parseSetCookie(raw: string): SetCookie {
  const [pair = '', ...rest] = raw.split(';');
  const eq = pair.indexOf('=');
  const attributes: Record<string, string> = {};
  for (const part of rest) {
    const [key = '', ...value] = part.trim().split('=');
    attributes[key.toLowerCase()] = value.join('=');
  }
  return { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), attributes, raw };
}

/** Just enough of a browser: a path-aware cookie jar, manual redirects, Accept-Language. */
class Browser {
  private readonly jar = new Map<string, { name: string; value: string; path: string }>();

  constructor(private readonly language?: string) {}

  cookie(name: string, path = '/'): string | undefined {
    return this.jar.get(`${name};${path}`)?.value;
  }

  setCookie(name: string, value: string, path: string): void {
    this.jar.set(`${name};${path}`, { name, value, path });
  }

  async request(url: string | URL, init: { method?: string; form?: Record<string, string> } = {}): Promise<Response> {
    const target = new URL(url);
    const cookies = [...this.jar.values()]
      .filter(({ path }) => path === '/' || target.pathname === path || target.pathname.startsWith(`${path}/`))
      .map(({ name, value }) => `${name}=${value}`);
    const headers: Record<string, string> = { accept: 'text/html' };
    if (cookies.length) headers.cookie = cookies.join('; ');
    if (this.language) headers['accept-language'] = this.language;
    if (init.form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const response = await fetch(target, {
      method: init.method ?? (init.form ? 'POST' : 'GET'),
      headers,
      redirect: 'manual',
      ...(init.form ? { body: new URLSearchParams(init.form) } : {}),
    });
    for (const raw of response.headers.getSetCookie()) {
      const cookie = parseSetCookie(raw);
      const path = cookie.attributes.path || '/';
      const expires = cookie.attributes.expires ? Date.parse(cookie.attributes.expires) : undefined;
      if (!cookie.value || (expires !== undefined && expires <= Date.now())) this.jar.delete(`${cookie.name};${path}`);
      else this.setCookie(cookie.name, cookie.value, path);
    }
    return response;
  }

  /** Follow redirects until a page answers; returns that page and the URL it came from. */
  async follow(url: string | URL, init: { form?: Record<string, string> } = {}): Promise<{ response: Response; url: URL; body: string }> {
    let current = new URL(url);
    let response = await this.request(current, init);
    for (let hops = 0; response.status >= 300 && response.status < 400; hops += 1) {
      if (hops > 10) throw new Error('too many redirects');
      current = new URL(response.headers.get('location') ?? '', current);
      await response.body?.cancel();
      response = await this.request(current);
    }
    return { response, url: current, body: await response.text() };
  }
}

function formAction(html: string, base: URL): URL {
  const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
  if (!action) throw new Error(`no form in page: ${html.slice(0, 200)}`);
  return new URL(action.replace(/&amp;/g, '&'), base);
}

function unescapeHtml(html: string): string {
  return html.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&#34;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
}

function decodeDemoCookie(value: string | undefined): Record<string, unknown> {
  expect(value, 'demo cookie').to.be.a('string');
  return JSON.parse(Buffer.from(value!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

function expectReadableErrorPage(body: string, code: string): void {
  expect(body).to.include('<html lang=');
  expect(body).to.include(`<code>${code}</code>`);
  expect(body).to.include('href="/demo/login"');
  expect(body).not.to.match(/\n\s+at /);
  expect(body).not.to.include('Error:');
}

/** /demo/login → /auth → dev login form; returns the login page. */
async function startLogin(browser: Browser, issuer: string): Promise<{ url: URL; body: string }> {
  const page = await browser.follow(`${issuer}/demo/login`);
  expect(page.url.pathname).to.match(/^\/interaction\//);
  expect(page.body).to.include('name="login"');
  return page;
}

/** The whole code flow through dev interactions: any login, then consent, back to /demo/callback. */
async function signIn(browser: Browser, issuer: string): Promise<{ response: Response; url: URL; body: string }> {
  const login = await startLogin(browser, issuer);
  const consent = await browser.follow(formAction(login.body, login.url), {
    form: { prompt: 'login', login: 'alice', password: 'anything' },
  });
  expect(consent.url.pathname).to.match(/^\/interaction\//);
  return browser.follow(formAction(consent.body, consent.url), { form: { prompt: 'consent' } });
}

describe('demo relying party', function () {
  let op: Issuer;

  before(async function () {
    op = await startIssuer();
  });

  after(async function () {
    await op?.close();
  });

  describe('GET /demo', function () {
    it('explains the demo in Chinese by default, with a plain link to /demo/login', async function () {
      const { response, body } = await new Browser().follow(`${op.issuer}/demo`);
      expect(response.status).to.equal(200);
      expect(response.headers.get('content-type')).to.match(/^text\/html/);
      expect(body).to.include('<html lang="zh-CN">');
      expect(body).to.match(/<h1>登录演示<\/h1>/);
      expect(body).to.include('<a class="button" href="/demo/login">使用钉钉登录演示</a>');
      expect(body).to.include(`<code>${op.issuer}/demo/callback</code>`);
      expect(body).not.to.match(/<script|<style| style=/);
    });

    it('is in English when the browser prefers English', async function () {
      const { body } = await new Browser(EN).follow(`${op.issuer}/demo`);
      expect(body).to.include('<html lang="en">');
      expect(body).to.include('<a class="button" href="/demo/login">Try signing in</a>');
    });
  });

  describe('GET /demo/login', function () {
    let response: Response;
    let location: URL;
    let cookies: SetCookie[];

    before(async function () {
      response = await new Browser().request(`${op.issuer}/demo/login`);
      location = new URL(response.headers.get('location') ?? '');
      cookies = response.headers.getSetCookie().map(parseSetCookie);
    });

    it('redirects to the authorization endpoint with PKCE S256, state and nonce', function () {
      expect(response.status).to.equal(302);
      expect(`${location.origin}${location.pathname}`).to.equal(`${op.issuer}/auth`);
      const params = location.searchParams;
      expect(params.get('client_id')).to.equal(CLIENT_ID);
      expect(params.get('response_type')).to.equal('code');
      expect(params.get('redirect_uri')).to.equal(`${op.issuer}/demo/callback`);
      expect(params.get('scope')).to.equal(DEMO_SCOPE);
      expect(params.get('code_challenge_method')).to.equal('S256');
      expect(params.get('code_challenge')).to.match(/^[\w-]{43}$/);
      expect(params.get('state')).to.match(/^[\w-]{20,}$/);
      expect(params.get('nonce')).to.match(/^[\w-]{20,}$/);
    });

    it('keeps verifier, state and nonce in a signed, HttpOnly, SameSite=Lax cookie on /demo for 10 minutes', function () {
      const cookie = cookies.find((c) => c.name === DEMO_COOKIE);
      const signature = cookies.find((c) => c.name === `${DEMO_COOKIE}.sig`);
      expect(cookie, 'demo cookie').to.not.equal(undefined);
      expect(signature, 'signature cookie').to.not.equal(undefined);
      for (const c of [cookie!, signature!]) {
        expect(c.attributes.path).to.equal('/demo');
        expect(c.attributes).to.have.property('httponly');
        expect(c.attributes.samesite).to.equal('lax');
        expect(c.attributes).not.to.have.property('secure');
        const lifetime = Date.parse(c.attributes.expires ?? '') - Date.now();
        expect(lifetime).to.be.within(9 * 60 * 1000, 10 * 60 * 1000 + 1000);
      }
      const saved = decodeDemoCookie(cookie!.value);
      expect(saved.state).to.equal(location.searchParams.get('state'));
      expect(saved.nonce).to.equal(location.searchParams.get('nonce'));
      expect(saved.verifier).to.be.a('string').with.length.of.at.least(43);
    });
  });

  describe('a full sign-in (dev interactions stand in for DingTalk)', function () {
    const browser = new Browser(EN);
    let result: { response: Response; url: URL; body: string };

    before(async function () {
      result = await signIn(browser, op.issuer);
    });

    it('comes back to /demo/callback and shows the result page', function () {
      expect(result.url.pathname).to.equal('/demo/callback');
      expect(result.url.searchParams.get('code')).to.be.a('string');
      expect(result.response.status).to.equal(200);
      expect(result.response.headers.get('cache-control')).to.equal('no-store');
      expect(result.body).to.include('<h1>Signed in</h1>');
    });

    it('shows the ID token claims and the userinfo response as escaped, pretty-printed JSON', function () {
      const blocks = [...result.body.matchAll(/<pre><code>([\s\S]*?)<\/code><\/pre>/g)].map((m) => m[1] ?? '');
      expect(blocks).to.have.length(2);
      const [claims, userinfo] = blocks.map((block) => JSON.parse(unescapeHtml(block)) as Record<string, unknown>);
      expect(claims).to.include({ iss: op.issuer, sub: 'alice', aud: CLIENT_ID });
      expect(claims).to.have.property('nonce');
      expect(userinfo).to.include({ sub: 'alice', name: '<b>Alice</b> & "co"', email: 'alice@example.test' });
      expect(blocks[1]).to.include('\n  &#34;sub&#34;: &#34;alice&#34;');
      expect(result.body).not.to.include('<b>Alice</b>');
      expect(result.body).to.include('&lt;b&gt;Alice&lt;/b&gt; &amp; \\&#34;co\\&#34;');
    });

    it('says which tokens were received and when they expire, never their values', function () {
      const saved = decodeDemoCookie(browser.cookie(DEMO_COOKIE, '/demo'));
      expect(saved.kind).to.equal('session');
      expect(saved.idToken).to.be.a('string');
      expect(result.body).not.to.include(saved.idToken);
      expect(result.body).not.to.match(/eyJ[\w-]+\.eyJ/);
      expect(result.body).to.match(/ID token: received, expires <time datetime="\d{4}-\d\d-\d\dT[\d:]+Z">/);
      expect(result.body).to.match(/Access token \(bearer\): received, expires <time/i);
      expect(result.body).to.include('Refresh token: not issued');
    });

    it('offers sign out and sign in again', function () {
      expect(result.body).to.include('href="/demo/logout"');
      expect(result.body).to.include('href="/demo/login"');
    });

    it('refuses to use the same callback twice', async function () {
      const again = await browser.follow(result.url);
      expect(again.response.status).to.equal(400);
      expectReadableErrorPage(again.body, 'demo.session_expired');
    });

    it('logs out at end_session with id_token_hint, post_logout_redirect_uri and client_id', async function () {
      // The failed replay above cleared nothing: the session cookie is still there.
      const saved = decodeDemoCookie(browser.cookie(DEMO_COOKIE, '/demo'));
      const response = await browser.request(`${op.issuer}/demo/logout`);
      expect(response.status).to.equal(302);
      const location = new URL(response.headers.get('location') ?? '');
      expect(`${location.origin}${location.pathname}`).to.equal(`${op.issuer}/session/end`);
      expect(location.searchParams.get('id_token_hint')).to.equal(saved.idToken);
      expect(location.searchParams.get('post_logout_redirect_uri')).to.equal(`${op.issuer}/demo`);
      expect(location.searchParams.get('client_id')).to.equal(CLIENT_ID);
      expect(browser.cookie(DEMO_COOKIE, '/demo'), 'demo cookie cleared').to.equal(undefined);

      const confirm = await browser.follow(location);
      expect(confirm.response.status).to.equal(200);
      const xsrf = /name="xsrf" value="([^"]+)"/.exec(confirm.body)?.[1];
      expect(xsrf).to.be.a('string');
      const back = await browser.follow(formAction(confirm.body, confirm.url), { form: { xsrf: xsrf!, logout: 'yes' } });
      expect(back.url.href).to.equal(`${op.issuer}/demo`);
      expect(back.response.status).to.equal(200);
    });
  });

  describe('GET /demo/callback failures', function () {
    it('renders a readable 400 page when the state does not match', async function () {
      const browser = new Browser();
      await browser.request(`${op.issuer}/demo/login`);
      const { response, body } = await browser.follow(`${op.issuer}/demo/callback?code=abc&state=wrong&iss=${op.issuer}`);
      expect(response.status).to.equal(400);
      expect(body).to.include('<html lang="zh-CN">');
      expect(body).to.include('<h1>演示登录未完成</h1>');
      expectReadableErrorPage(body, 'demo.state_mismatch');
    });

    it('renders the error page for error=access_denied', async function () {
      const browser = new Browser(EN);
      const login = await browser.request(`${op.issuer}/demo/login`);
      const state = new URL(login.headers.get('location') ?? '').searchParams.get('state') ?? '';
      const query = new URLSearchParams({ error: 'access_denied', state, iss: op.issuer });
      const { response, body } = await browser.follow(`${op.issuer}/demo/callback?${query.toString()}`);
      expect(response.status).to.equal(400);
      expect(body).to.include('Sign-in was cancelled or refused.');
      expectReadableErrorPage(body, 'access_denied');
    });

    it('renders access_denied when the user aborts at the provider', async function () {
      const browser = new Browser(EN);
      const login = await startLogin(browser, op.issuer);
      const { response, url, body } = await browser.follow(new URL(`${login.url.pathname}/abort`, login.url));
      expect(url.pathname).to.equal('/demo/callback');
      expect(url.searchParams.get('error')).to.equal('access_denied');
      expect(response.status).to.equal(400);
      expectReadableErrorPage(body, 'access_denied');
    });

    it('renders a 400 page when the demo cookie is missing', async function () {
      const { response, body } = await new Browser().follow(`${op.issuer}/demo/callback?code=abc&state=xyz`);
      expect(response.status).to.equal(400);
      expectReadableErrorPage(body, 'demo.session_expired');
    });

    it('ignores a demo cookie whose signature does not match', async function () {
      const browser = new Browser();
      const login = await browser.request(`${op.issuer}/demo/login`);
      const state = new URL(login.headers.get('location') ?? '').searchParams.get('state') ?? '';
      const forged = Buffer.from(JSON.stringify({ kind: 'login', verifier: 'x'.repeat(43), state, nonce: 'n' })).toString('base64url');
      browser.setCookie(DEMO_COOKIE, forged, '/demo');
      const { response, body } = await browser.follow(`${op.issuer}/demo/callback?code=abc&state=${state}`);
      expect(response.status).to.equal(400);
      expectReadableErrorPage(body, 'demo.session_expired');
    });

    it('renders a 400 page when the code is not valid', async function () {
      const browser = new Browser();
      const login = await browser.request(`${op.issuer}/demo/login`);
      const state = new URL(login.headers.get('location') ?? '').searchParams.get('state') ?? '';
      const query = new URLSearchParams({ code: 'not-a-code', state, iss: op.issuer });
      const { response, body } = await browser.follow(`${op.issuer}/demo/callback?${query.toString()}`);
      expect(response.status).to.equal(400);
      expectReadableErrorPage(body, 'invalid_grant');
    });
  });

  describe('when the issuer cannot be used', function () {
    it('renders a 502 page, and tries discovery again on the next request', async function () {
      const other = await startIssuer();
      try {
        other.down = true;
        const failed = await new Browser().follow(`${other.issuer}/demo/login`);
        expect(failed.response.status).to.equal(502);
        expectReadableErrorPage(failed.body, 'demo.invalid_response');
        other.down = false;
        const retried = await new Browser().request(`${other.issuer}/demo/login`);
        expect(retried.status).to.equal(302);
      } finally {
        await other.close();
      }
    });

    it('renders a 502 page when nothing listens at the issuer', async function () {
      const { server, origin } = await listen();
      await shut(server);
      const demo = await startDemoOnly(origin);
      try {
        const { response, body } = await new Browser().follow(`${demo.origin}/demo/login`);
        expect(response.status).to.equal(502);
        expectReadableErrorPage(body, 'demo.issuer_unreachable');
      } finally {
        await demo.close();
      }
    });

    it('renders a 504 page when the issuer does not answer in time', async function () {
      const { server, origin } = await listen(() => undefined);
      const demo = await startDemoOnly(origin, 0.3);
      try {
        const { response, body } = await new Browser().follow(`${demo.origin}/demo/login`);
        expect(response.status).to.equal(504);
        expectReadableErrorPage(body, 'demo.timeout');
      } finally {
        await demo.close();
        await shut(server);
      }
    });
  });
});
