import { Writable } from 'node:stream';
import { expect } from 'chai';
import { resetState, startTestServer, type TestServer } from '../../helpers/bootstrap.js';

describe('security: an https issuer reached without TLS (real PostgreSQL and Redis)', function () {
  let server: TestServer;
  let local: string;
  const lines: Record<string, unknown>[] = [];

  before(async function () {
    await resetState();
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    server = await startTestServer({ issuer: 'https://id.example.test', trustProxy: true, logLevel: 'warn' }, undefined, { destination });
    local = `http://127.0.0.1:${server.config.port}`;
  });

  after(async function () {
    await server?.close();
  });

  it('redirects a GET the proxy says came over plain http to the https issuer, serving no http endpoints', async function () {
    const response = await fetch(`${local}/.well-known/openid-configuration`, {
      redirect: 'manual',
      headers: { 'x-forwarded-proto': 'http' },
    });
    expect(response.status).to.equal(308);
    expect(response.headers.get('location')).to.equal('https://id.example.test/.well-known/openid-configuration');
    expect(await response.text()).to.not.contain('http://');
  });

  it('refuses, never redirects, a GET through a proxy that sends no X-Forwarded-Proto (a redirect would loop), naming the fix', async function () {
    const response = await fetch(`${local}/.well-known/openid-configuration`, { redirect: 'manual' });
    expect(response.status).to.equal(400);
    const body = (await response.json()) as { error: string; error_description: string };
    expect(body.error).to.equal('invalid_request');
    expect(body.error_description).to.contain('X-Forwarded-Proto: https').and.contain('TRUST_PROXY');
  });

  it('sets no cookie on a plain-http request to a browser endpoint', async function () {
    for (const headers of [{ 'x-forwarded-proto': 'http' }, {}] as Record<string, string>[]) {
      const response = await fetch(`${local}/auth?client_id=x&response_type=code&scope=openid`, { redirect: 'manual', headers });
      expect(response.status).to.be.oneOf([308, 400]);
      expect(response.headers.getSetCookie()).to.deep.equal([]);
    }
  });

  it('refuses a plain-http POST to the token endpoint with JSON', async function () {
    const response = await fetch(`${local}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    expect(response.status).to.equal(400);
    expect(await response.json()).to.include({ error: 'invalid_request' });
  });

  it('logs the first such request once, with the fix', function () {
    const warnings = lines.filter((line) => typeof line.msg === 'string' && line.msg.includes('without TLS'));
    expect(warnings).to.have.length(1);
    expect(warnings[0]!.msg).to.contain('X-Forwarded-Proto: https').and.contain('TRUST_PROXY');
  });

  it('still answers the probes an orchestrator sends to the pod over plain HTTP', async function () {
    expect((await fetch(`${local}/healthz`)).status).to.equal(200);
  });

  it('serves https endpoints when the proxy says https', async function () {
    const response = await fetch(`${local}/.well-known/openid-configuration`, { headers: { 'x-forwarded-proto': 'https' } });
    expect(response.status).to.equal(200);
    const discovery = (await response.json()) as Record<string, unknown>;
    expect(discovery.token_endpoint).to.match(/^https:\/\//);
  });

  it('names the console’s and the forms’ cookies __Host- over https (Secure, Path=/)', async function () {
    const response = await fetch(`${local}/admin/login`, { redirect: 'manual', headers: { 'x-forwarded-proto': 'https' } });
    const cookies = response.headers.getSetCookie();
    const login = cookies.filter((cookie) => cookie.startsWith('__Host-admin_login'));
    expect(login, cookies.join('\n')).to.have.length(2); // the value and its signature
    for (const cookie of login) expect(cookie.toLowerCase()).to.contain('path=/;').and.contain('secure').and.not.contain('domain=');
    expect(cookies.some((cookie) => cookie.startsWith('admin_login'))).to.equal(false);
  });
});
