import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect } from 'chai';
import { resetState, startTestServer, type TestServer } from '../helpers/bootstrap.js';

interface Case {
  name: string;
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Endpoints that must answer with an OAuth error object. */
  oauth?: boolean;
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const HUGE = 'x'.repeat(70 * 1024);

function cases(client: string): Case[] {
  const basic = { authorization: `Basic ${Buffer.from(client).toString('base64')}` };
  return [
    { name: 'token: no body', method: 'POST', path: '/token', oauth: true },
    { name: 'token: empty form', method: 'POST', path: '/token', headers: FORM, body: '', oauth: true },
    {
      name: 'token: JSON body',
      method: 'POST',
      path: '/token',
      headers: { 'content-type': 'application/json', ...basic },
      body: '{"grant_type":"client_credentials"}',
      oauth: true,
    },
    {
      name: 'token: broken JSON',
      method: 'POST',
      path: '/token',
      headers: { 'content-type': 'application/json' },
      body: '{"grant',
      oauth: true,
    },
    {
      name: 'token: unknown grant',
      method: 'POST',
      path: '/token',
      headers: { ...FORM, ...basic },
      body: 'grant_type=password&username=a&password=b',
      oauth: true,
    },
    {
      name: 'token: bad code',
      method: 'POST',
      path: '/token',
      headers: { ...FORM, ...basic },
      body: 'grant_type=authorization_code&code=nope&redirect_uri=https://x',
      oauth: true,
    },
    {
      name: 'token: bad refresh token',
      method: 'POST',
      path: '/token',
      headers: { ...FORM, ...basic },
      body: 'grant_type=refresh_token&refresh_token=nope',
      oauth: true,
    },
    {
      name: 'token: garbage basic auth',
      method: 'POST',
      path: '/token',
      headers: { ...FORM, authorization: 'Basic %%%not-base64' },
      body: 'grant_type=client_credentials',
      oauth: true,
    },
    {
      name: 'token: basic without colon',
      method: 'POST',
      path: '/token',
      headers: { ...FORM, authorization: `Basic ${Buffer.from('nocolon').toString('base64')}` },
      body: 'grant_type=client_credentials',
      oauth: true,
    },
    {
      name: 'token: huge body',
      method: 'POST',
      path: '/token',
      headers: { ...FORM, ...basic },
      body: `grant_type=client_credentials&scope=${HUGE}`,
      oauth: true,
    },
    {
      name: 'token: repeated parameter',
      method: 'POST',
      path: '/token',
      headers: { ...FORM, ...basic },
      body: 'grant_type=client_credentials&grant_type=client_credentials',
      oauth: true,
    },
    {
      name: 'token: bad resource',
      method: 'POST',
      path: '/token',
      headers: { ...FORM, ...basic },
      body: 'grant_type=client_credentials&resource=not%20a%20uri',
      oauth: true,
    },
    { name: 'token: GET', path: '/token' },
    {
      name: 'token: garbage client assertion',
      method: 'POST',
      path: '/token',
      headers: FORM,
      body: 'grant_type=client_credentials&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&client_assertion=a.b.c',
      oauth: true,
    },
    { name: 'introspection: no auth', method: 'POST', path: '/token/introspection', headers: FORM, body: 'token=x', oauth: true },
    {
      name: 'introspection: no token',
      method: 'POST',
      path: '/token/introspection',
      headers: { ...FORM, ...basic },
      body: '',
      oauth: true,
    },
    {
      name: 'introspection: huge token',
      method: 'POST',
      path: '/token/introspection',
      headers: { ...FORM, ...basic },
      body: `token=${HUGE}`,
      oauth: true,
    },
    {
      name: 'introspection: wrong content type',
      method: 'POST',
      path: '/token/introspection',
      headers: { 'content-type': 'text/plain', ...basic },
      body: 'token=x',
      oauth: true,
    },
    {
      name: 'revocation: bad hint',
      method: 'POST',
      path: '/token/revocation',
      headers: { ...FORM, ...basic },
      body: 'token=x&token_type_hint=nonsense',
    },
    { name: 'PAR: no auth', method: 'POST', path: '/request', headers: FORM, body: 'response_type=code', oauth: true },
    {
      name: 'PAR: missing redirect_uri',
      method: 'POST',
      path: '/request',
      headers: { ...FORM, ...basic },
      body: 'response_type=code&scope=openid',
      oauth: true,
    },
    { name: 'userinfo: no token', path: '/me', oauth: true },
    { name: 'userinfo: garbage token', path: '/me', headers: { authorization: 'Bearer ~~~\u00ff' }, oauth: true },
    { name: 'userinfo: wrong scheme', path: '/me', headers: { authorization: 'Basic abc' }, oauth: true },
    { name: 'userinfo: token in query', path: '/me?access_token=abc', oauth: true },
    { name: 'auth: nothing', path: '/auth' },
    { name: 'auth: unknown client', path: '/auth?client_id=nope&response_type=code&scope=openid&redirect_uri=https://x' },
    {
      name: 'auth: bad response_type',
      path: `/auth?client_id=${client.split(':')[0]}&response_type=token%20id_token&scope=openid&redirect_uri=https://x`,
    },
    { name: 'auth: huge state', path: `/auth?client_id=nope&response_type=code&scope=openid&state=${'s'.repeat(7000)}` },
    { name: 'auth: broken percent-encoding', path: '/auth?client_id=%E0%A4%A&scope=%' },
    { name: 'auth: bad claims JSON', path: '/auth?client_id=nope&response_type=code&scope=openid&claims={' },
    { name: 'auth: bad request_uri', path: '/auth?client_id=nope&request_uri=urn:ietf:params:oauth:request_uri:nope' },
    { name: 'auth: POST over http', method: 'POST', path: '/auth', headers: FORM, body: 'client_id=x' },
    { name: 'end session: bad id_token_hint', path: '/session/end?id_token_hint=a.b.c' },
    {
      name: 'end session: unknown post_logout_redirect_uri',
      path: '/session/end?client_id=nope&post_logout_redirect_uri=https://evil.example',
    },
    { name: 'end session confirm: no xsrf', method: 'POST', path: '/session/end/confirm', headers: FORM, body: 'logout=yes' },
    { name: 'interaction: unknown uid', path: '/interaction/doesnotexist' },
    { name: 'interaction: abort unknown uid', path: '/interaction/doesnotexist/abort' },
    { name: 'interaction: bad cookie', path: '/interaction/abc', headers: { cookie: '_interaction=%%%; _interaction.sig=@@@' } },
    { name: 'session cookie garbage', path: '/auth?client_id=nope', headers: { cookie: '_session=\u00ff\u00fe\u00e9; _session.sig=x' } },
    { name: 'discovery: POST', method: 'POST', path: '/.well-known/openid-configuration' },
    { name: 'jwks: POST', method: 'POST', path: '/jwks' },
    { name: 'assets: traversal', path: '/assets/..%2F..%2Fpackage.json' },
    { name: 'assets: traversal, plain', path: '/assets/../../package.json' },
    { name: 'unknown path', path: '/nope/%00/..' },
    { name: 'very long path', path: `/${'a'.repeat(8000)}` },
    { name: 'OPTIONS on token', method: 'OPTIONS', path: '/token' },
    { name: 'PUT on token', method: 'PUT', path: '/token', headers: FORM, body: 'x=1' },
  ];
}

describe('bad input', function () {
  let server: TestServer;
  let client: string;

  before(async function () {
    await resetState();
    server = await startTestServer();
    const created = await server.services.clientStore.add({ name: 'svc', grantTypes: ['client_credentials'] });
    client = `${created.clientId}:${created.clientSecret}`;
  });

  after(async function () {
    await server?.close();
  });

  it('answers every malformed request with a 4xx and no internals', async function () {
    const failures: string[] = [];
    for (const c of cases(client)) {
      const response = await fetch(`${server.issuer}${c.path}`, {
        method: c.method ?? 'GET',
        headers: c.headers,
        body: c.body,
        redirect: 'manual',
      });
      const text = await response.text();
      const status = response.status;
      if (status >= 500) failures.push(`${c.name}: ${status}`);
      if (status < 300 && c.oauth) failures.push(`${c.name}: ${status}, expected an error`);
      if (/node_modules|\n\s+at |Error: |sequelize|ECONNREFUSED/i.test(text)) failures.push(`${c.name}: leaks internals`);
      if (c.oauth && status >= 400) {
        const body = JSON.parse(text) as { error?: unknown };
        if (typeof body.error !== 'string') failures.push(`${c.name}: no OAuth error in ${text.slice(0, 100)}`);
      }
    }
    expect(failures, failures.join('\n')).to.deep.equal([]);
  });

  it('answers random bytes on every endpoint without a 5xx', async function () {
    const paths = ['/token', '/token/introspection', '/token/revocation', '/request', '/me', '/auth', '/session/end', '/interaction/x'];
    let seed = 7;
    const random = (): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const failures: string[] = [];
    for (let i = 0; i < 200; i += 1) {
      const path = paths[i % paths.length]!;
      const bytes = Buffer.from(Array.from({ length: Math.floor(random() * 400) }, () => Math.floor(random() * 256)));
      const types = ['application/x-www-form-urlencoded', 'application/json', 'multipart/form-data; boundary=x', 'text/plain'];
      const response = await fetch(`${server.issuer}${path}`, {
        method: 'POST',
        headers: { 'content-type': types[i % types.length]! },
        body: bytes,
        redirect: 'manual',
      });
      await response.arrayBuffer();
      if (response.status >= 500) failures.push(`${path} #${i}: ${response.status}`);
    }
    expect(failures, failures.join('\n')).to.deep.equal([]);
  });

  it('survives thousands of malformed requests to every endpoint and page without 5xx, leaks or growth', async function () {
    this.timeout(120_000);
    let seed = 42;
    const random = (): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const values = [
      '',
      ' ',
      '%00',
      '\u0000',
      'null',
      'undefined',
      '-1',
      '0',
      '1e309',
      '[]',
      '{}',
      '"',
      "'",
      '<script>',
      '../../etc/passwd',
      'a'.repeat(3000),
      '\u202e\u00e9\ud83d\ude00',
      'javascript:alert(1)',
      'https://evil.example/cb',
      'urn:x',
      '%E0%A4%A',
      '=;&',
    ];
    const params = [
      'client_id',
      'redirect_uri',
      'response_type',
      'scope',
      'state',
      'nonce',
      'code',
      'code_verifier',
      'code_challenge',
      'code_challenge_method',
      'grant_type',
      'refresh_token',
      'token',
      'token_type_hint',
      'resource',
      'claims',
      'prompt',
      'request_uri',
      'id_token_hint',
      'post_logout_redirect_uri',
      'authCode',
      'error',
      'handover',
      '_csrf',
      'decision',
      'client_secret',
      'client_assertion',
    ];
    const paths = [
      '/auth',
      '/token',
      '/token/introspection',
      '/token/revocation',
      '/request',
      '/me',
      '/jwks',
      '/session/end',
      '/session/end/confirm',
      '/interaction/x',
      '/interaction/x/dingtalk',
      '/interaction/x/login',
      '/interaction/x/consent',
      '/interaction/x/free-login',
      '/interaction/x/abort',
      '/dingtalk/callback',
      '/dingtalk/events',
      '/.well-known/openid-configuration',
      '/healthz',
      '/readyz',
      '/',
      '/assets/app.css',
      '/assets/%2e%2e%2fpackage.json',
      '/%2e%2e/%2e%2e/etc/passwd',
      '/auth/x',
      '/demo',
    ];
    const types = [
      'application/x-www-form-urlencoded',
      'application/json',
      'text/plain',
      'multipart/form-data; boundary=z',
      'application/xml',
    ];
    const cookies = ['', '_session=x', '_interaction=%%%', '_csrf=a; _csrf.sig=b', '_dt_browser=\u00ff', 'a=' + 'b'.repeat(3000)];

    const failures: string[] = [];
    const send = async (i: number): Promise<void> => {
      const query = new URLSearchParams();
      const body = new URLSearchParams();
      for (let n = Math.floor(random() * 6); n > 0; n -= 1) query.append(pick(params), pick(values));
      for (let n = Math.floor(random() * 6); n > 0; n -= 1) body.append(pick(params), pick(values));
      const post = random() < 0.5;
      const type = pick(types);
      const path = pick(paths);
      const cookie = pick(cookies).replace(/[^\x20-\x7e]/g, '?');
      const response = await fetch(`${server.issuer}${path}?${query.toString()}`, {
        method: post ? 'POST' : 'GET',
        redirect: 'manual',
        headers: {
          ...(post ? { 'content-type': type } : {}),
          ...(cookie ? { cookie } : {}),
          ...(random() < 0.2 ? { authorization: `Basic ${Buffer.from(pick(values)).toString('base64')}` } : {}),
        },
        body: post ? (type.includes('json') ? JSON.stringify(Object.fromEntries(body)) : body.toString()) : undefined,
      });
      const text = await response.text();
      if (response.status >= 500 && !(path === '/readyz' && response.status === 503)) failures.push(`#${i} ${path}: ${response.status}`);
      if (/node_modules|\n\s+at |sequelize|ECONNREFUSED/i.test(text)) failures.push(`#${i} ${path}: leaks internals`);
    };

    // Measure what stays reachable, not garbage that has not been collected yet.
    v8.setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const retained = (): number => {
      gc();
      gc();
      return process.memoryUsage().heapUsed;
    };
    for (let i = 0; i < 500; i += 1) await send(i); // warm-up: caches, JIT, pools
    const before = retained();
    for (let batch = 0; batch < 50; batch += 1) {
      await Promise.all(Array.from({ length: 50 }, (_, k) => send(500 + batch * 50 + k)));
    }
    const growth = (retained() - before) / 2 ** 20;
    expect(failures.slice(0, 20), failures.join('\n')).to.deep.equal([]);
    // The server runs in this process: its heap must not keep what 2 500 bad requests brought.
    expect(growth, `heap grew ${growth.toFixed(1)} MiB`).to.be.below(16);
    expect((await fetch(`${server.issuer}/healthz`)).status).to.equal(200);
  });
});
