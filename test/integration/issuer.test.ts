import { expect } from 'chai';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { resetState, startTestServer, type TestServer } from '../helpers/bootstrap.js';

const API = 'https://api.example.test/orders';
const API_ES = 'https://api.example.test/reports';

async function rp(server: TestServer, clientId: string, secret: string): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(server.issuer), clientId, secret, oidc.ClientSecretBasic(secret), {
    execute: [oidc.allowInsecureRequests],
  });
}

async function form(server: TestServer, path: string, body: Record<string, string>, auth?: string): Promise<Response> {
  return fetch(`${server.issuer}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(auth ? { authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {}),
    },
    body: new URLSearchParams(body),
  });
}

describe('issuer on Postgres and Redis', function () {
  let server: TestServer;
  let service: { clientId: string; clientSecret: string };
  let config: oidc.Configuration;

  before(async function () {
    await resetState();
    server = await startTestServer();
    const { clientStore } = server.services;
    service = (await clientStore.add({
      name: 'Orders worker',
      grantTypes: ['client_credentials'],
      allowedResources: { [API]: [], [API_ES]: [] },
    })) as {
      clientId: string;
      clientSecret: string;
    };
    await clientStore.addResourceServer({ identifier: API, name: 'Orders API', scopes: ['orders:read', 'orders:write'] });
    await clientStore.addResourceServer({ identifier: API_ES, scopes: ['reports:read'], signingAlg: 'ES256', accessTokenTtl: 120 });
    config = await rp(server, service.clientId, service.clientSecret);
  });

  after(async function () {
    await server?.close();
  });

  describe('discovery', function () {
    it('advertises the endpoints of the contract', function () {
      const meta = config.serverMetadata();
      expect(meta.issuer).to.equal(server.issuer);
      expect(meta.authorization_endpoint).to.equal(`${server.issuer}/auth`);
      expect(meta.token_endpoint).to.equal(`${server.issuer}/token`);
      expect(meta.userinfo_endpoint).to.equal(`${server.issuer}/me`);
      expect(meta.jwks_uri).to.equal(`${server.issuer}/jwks`);
      expect(meta.introspection_endpoint).to.equal(`${server.issuer}/token/introspection`);
      expect(meta.revocation_endpoint).to.equal(`${server.issuer}/token/revocation`);
      expect(meta.end_session_endpoint).to.equal(`${server.issuer}/session/end`);
    });

    it('offers only the code flow with S256 PKCE, and the decided features', function () {
      const meta = config.serverMetadata() as Record<string, unknown>;
      expect(meta.response_types_supported).to.deep.equal(['code']);
      expect(meta.code_challenge_methods_supported).to.deep.equal(['S256']);
      expect(meta.grant_types_supported).to.have.members(['authorization_code', 'refresh_token', 'client_credentials']);
      expect(meta.token_endpoint_auth_methods_supported).to.have.members([
        'client_secret_basic',
        'client_secret_post',
        'private_key_jwt',
        'none',
      ]);
      expect(meta.pushed_authorization_request_endpoint).to.equal(`${server.issuer}/request`);
      expect(meta.dpop_signing_alg_values_supported).to.be.an('array').with.lengthOf.above(0);
      expect(meta.backchannel_logout_supported).to.equal(true);
      expect(meta.claims_parameter_supported).to.equal(true);
      expect(meta.scopes_supported).to.include.members(['openid', 'offline_access', 'profile', 'email', 'phone', 'roles', 'dingtalk']);
      expect(meta.claims_supported).to.include.members(['sub', 'email', 'roles', 'groups', 'dingtalk_union_id']);
    });
  });

  describe('JWKS', function () {
    it('publishes an RS256 and an ES256 key, public parts only', async function () {
      const { keys } = (await (await fetch(`${server.issuer}/jwks`)).json()) as { keys: Record<string, unknown>[] };
      expect(keys.map((k) => k.alg)).to.include.members(['RS256', 'ES256']);
      for (const key of keys) {
        expect(key).to.not.have.any.keys('d', 'p', 'q', 'dp', 'dq', 'qi');
        expect(key.kid).to.be.a('string');
      }
    });
  });

  describe('client_credentials', function () {
    it('issues an opaque token that introspects as active', async function () {
      const token = await oidc.clientCredentialsGrant(config, { scope: 'orders:read' });
      expect(token.token_type).to.equal('bearer');
      expect(token.expires_in).to.equal(600);
      const info = await oidc.tokenIntrospection(config, token.access_token);
      expect(info.active).to.equal(true);
      expect(info.client_id).to.equal(service.clientId);
    });

    it('issues an RFC 9068 JWT for a registered resource server, verifiable with /jwks', async function () {
      const token = await oidc.clientCredentialsGrant(config, { resource: API, scope: 'orders:read' });
      const jwks = createRemoteJWKSet(new URL(`${server.issuer}/jwks`));
      const { payload, protectedHeader } = await jwtVerify(token.access_token, jwks, {
        issuer: server.issuer,
        audience: API,
        typ: 'at+jwt',
      });
      expect(protectedHeader.alg).to.equal('RS256');
      expect(payload.client_id).to.equal(service.clientId);
      expect(payload.sub).to.equal(service.clientId);
      expect(payload.scope).to.equal('orders:read');
      expect(payload.jti).to.be.a('string');
      expect(payload.exp! - payload.iat!).to.equal(3600);
    });

    it('signs with ES256 and the resource server TTL when the resource server says so', async function () {
      const token = await oidc.clientCredentialsGrant(config, { resource: API_ES });
      expect(decodeProtectedHeader(token.access_token).alg).to.equal('ES256');
      const jwks = createRemoteJWKSet(new URL(`${server.issuer}/jwks`));
      const { payload } = await jwtVerify(token.access_token, jwks, { audience: API_ES });
      expect(payload.exp! - payload.iat!).to.equal(120);
    });

    it('refuses an unregistered resource with invalid_target', async function () {
      const response = await form(
        server,
        '/token',
        { grant_type: 'client_credentials', resource: 'https://nope.example.test' },
        `${service.clientId}:${service.clientSecret}`,
      );
      expect(response.status).to.equal(400);
      expect(((await response.json()) as { error: string }).error).to.equal('invalid_target');
    });

    it('refuses a resource server the client is not allowed, with invalid_target', async function () {
      const other = await server.services.clientStore.add({ name: 'Other job', grantTypes: ['client_credentials'] });
      const response = await form(
        server,
        '/token',
        { grant_type: 'client_credentials', resource: API },
        `${other.clientId}:${other.clientSecret}`,
      );
      expect(response.status).to.equal(400);
      expect(((await response.json()) as { error: string }).error).to.equal('invalid_target');
    });

    it('grants only the scopes a client is allowed at a resource server', async function () {
      const reader = await server.services.clientStore.add({
        name: 'Reader',
        grantTypes: ['client_credentials'],
        allowedResources: { [API]: ['orders:read'] },
      });
      const response = await form(
        server,
        '/token',
        { grant_type: 'client_credentials', resource: API, scope: 'orders:read orders:write' },
        `${reader.clientId}:${reader.clientSecret}`,
      );
      const body = (await response.json()) as { access_token: string; scope?: string };
      expect(body.scope).to.equal('orders:read');
      const jwks = createRemoteJWKSet(new URL(`${server.issuer}/jwks`));
      const { payload } = await jwtVerify(body.access_token, jwks, { audience: API });
      expect(payload.scope).to.equal('orders:read');
    });

    it('refuses a wrong secret with 401 invalid_client', async function () {
      const response = await form(server, '/token', { grant_type: 'client_credentials' }, `${service.clientId}:wrong`);
      expect(response.status).to.equal(401);
      expect(((await response.json()) as { error: string }).error).to.equal('invalid_client');
    });
  });

  describe('introspection and revocation', function () {
    it('answers active: false for a token it never issued', async function () {
      const info = await oidc.tokenIntrospection(config, 'not-a-token');
      expect(info).to.deep.equal({ active: false });
    });

    it('answers 401 invalid_client to introspection without client authentication', async function () {
      const token = await oidc.clientCredentialsGrant(config);
      const response = await form(server, '/token/introspection', { token: token.access_token });
      expect(response.status).to.equal(401);
      expect(response.headers.get('www-authenticate')).to.match(/^Basic/);
      expect(await response.json()).to.include({ error: 'invalid_client' });
    });

    it('answers 401 invalid_client to revocation without client authentication', async function () {
      const response = await form(server, '/token/revocation', { token: 'whatever' });
      expect(response.status).to.equal(401);
      expect(await response.json()).to.include({ error: 'invalid_client' });
    });

    it('revokes a token: it introspects as inactive afterwards', async function () {
      const token = await oidc.clientCredentialsGrant(config);
      await oidc.tokenRevocation(config, token.access_token);
      expect((await oidc.tokenIntrospection(config, token.access_token)).active).to.equal(false);
    });

    it('does not let one client revoke another client’s token, and answers as for an unknown one (RFC 7009 §2.2)', async function () {
      const other = await server.services.clientStore.add({ name: 'Other', grantTypes: ['client_credentials'] });
      const token = await oidc.clientCredentialsGrant(config);
      const response = await form(server, '/token/revocation', { token: token.access_token }, `${other.clientId}:${other.clientSecret}`);
      expect(response.status).to.equal(200);
      expect((await oidc.tokenIntrospection(config, token.access_token)).active).to.equal(true);
    });
  });

  describe('authorization endpoint without a login', function () {
    let web: { clientId: string; clientSecret?: string };
    let spa: { clientId: string };

    before(async function () {
      web = await server.services.clientStore.add({ name: 'Grafana', redirectUris: ['https://grafana.example.test/login/generic_oauth'] });
      spa = await server.services.clientStore.add({ name: 'SPA', public: true, redirectUris: ['https://spa.example.test/cb'] });
    });

    /** An authorization request, with a PKCE challenge unless `pkce: false` (every client needs one by default). */
    function authorize(params: Record<string, string>, { pkce = true } = {}): Promise<Response> {
      const challenge: Record<string, string> = pkce
        ? { code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' }
        : {};
      return fetch(`${server.issuer}/auth?${new URLSearchParams({ ...challenge, ...params }).toString()}`, { redirect: 'manual' });
    }

    it('ignores a scope it does not know (Grafana asks for user:email) and starts the interaction', async function () {
      const response = await authorize({
        client_id: web.clientId,
        response_type: 'code',
        scope: 'openid email user:email',
        redirect_uri: 'https://grafana.example.test/login/generic_oauth',
        state: 'abc',
      });
      expect(response.status).to.equal(303);
      expect(response.headers.get('location')).to.match(/^\/interaction\/[\w-]+$/);
    });

    it('requires redirect_uri even when the client has just one', async function () {
      const response = await authorize({ client_id: web.clientId, response_type: 'code', scope: 'openid' });
      expect(response.status).to.equal(400);
      expect(await response.text()).to.contain('invalid_request');
    });

    it('matches redirect_uri exactly', async function () {
      const response = await authorize({
        client_id: web.clientId,
        response_type: 'code',
        scope: 'openid',
        redirect_uri: 'https://grafana.example.test/login/generic_oauth/',
      });
      expect(response.status).to.equal(400);
      expect(await response.text()).to.contain('invalid_redirect_uri');
    });

    it('refuses implicit and hybrid response types', async function () {
      const response = await authorize({
        client_id: web.clientId,
        response_type: 'id_token',
        scope: 'openid',
        nonce: 'n',
        redirect_uri: 'https://grafana.example.test/login/generic_oauth',
      });
      const location = new URL(response.headers.get('location') ?? 'http://x/');
      expect(location.searchParams.get('error') ?? (await response.text())).to.match(/unsupported_response_type/);
    });

    it('requires PKCE from a public client', async function () {
      const response = await authorize(
        {
          client_id: spa.clientId,
          response_type: 'code',
          scope: 'openid',
          redirect_uri: 'https://spa.example.test/cb',
        },
        { pkce: false },
      );
      const location = new URL(response.headers.get('location')!);
      expect(location.origin).to.equal('https://spa.example.test');
      expect(location.searchParams.get('error')).to.equal('invalid_request');
      expect(location.searchParams.get('error_description')).to.match(/PKCE/);
    });

    it('requires PKCE from a confidential client too, unless it opts out with require_pkce: false (RFC 9700 §2.1.1)', async function () {
      const request = {
        client_id: web.clientId,
        response_type: 'code',
        scope: 'openid',
        redirect_uri: 'https://grafana.example.test/login/generic_oauth',
      };
      const refused = await authorize(request, { pkce: false });
      const location = new URL(refused.headers.get('location')!);
      expect(location.origin).to.equal('https://grafana.example.test');
      expect(location.searchParams.get('error')).to.equal('invalid_request');
      expect(location.searchParams.get('error_description')).to.match(/PKCE/);

      const legacy = await server.services.clientStore.add({
        name: 'Legacy app',
        redirectUris: ['https://legacy.example.test/cb'],
        metadata: { require_pkce: false },
      });
      const allowed = await authorize(
        { client_id: legacy.clientId, response_type: 'code', scope: 'openid', redirect_uri: 'https://legacy.example.test/cb' },
        { pkce: false },
      );
      expect(allowed.status).to.equal(303);
      expect(allowed.headers.get('location')).to.match(/^\/interaction\//);
    });

    it('accepts a pushed authorization request (PAR)', async function () {
      const par = await rp(server, web.clientId, web.clientSecret!);
      const url = await oidc.buildAuthorizationUrlWithPAR(par, {
        redirect_uri: 'https://grafana.example.test/login/generic_oauth',
        scope: 'openid',
        code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      });
      expect(url.searchParams.get('request_uri')).to.match(/^urn:ietf:params:oauth:request_uri:/);
      const response = await fetch(url, { redirect: 'manual' });
      expect(response.status).to.equal(303);
    });

    it('shows the interaction page in Chinese by default and English on request, with security headers', async function () {
      const start = await authorize({
        client_id: web.clientId,
        response_type: 'code',
        scope: 'openid',
        redirect_uri: 'https://grafana.example.test/login/generic_oauth',
      });
      const cookies = start.headers
        .getSetCookie()
        .map((c) => c.split(';')[0])
        .join('; ');
      const url = `${server.issuer}${start.headers.get('location')}`;
      const zh = await fetch(url, { headers: { cookie: cookies } });
      expect(zh.status).to.equal(200);
      const zhText = await zh.text();
      expect(zhText).to.contain('lang="zh-CN"');
      expect(zh.headers.get('content-security-policy')).to.contain("frame-ancestors 'none'");
      expect(zh.headers.get('cache-control')).to.equal('no-store');
      const en = await fetch(url, { headers: { cookie: cookies, 'accept-language': 'en-US,en;q=0.9' } });
      expect(await en.text()).to.contain('lang="en"');
    });

    it('sets HttpOnly SameSite cookies', async function () {
      const start = await authorize({
        client_id: web.clientId,
        response_type: 'code',
        scope: 'openid',
        redirect_uri: 'https://grafana.example.test/login/generic_oauth',
      });
      const cookies = start.headers.getSetCookie();
      expect(cookies).to.have.lengthOf.above(0);
      for (const cookie of cookies) expect(cookie.toLowerCase()).to.contain('httponly').and.to.contain('samesite=lax');
    });

    it('returns access_denied to the application when the user goes back', async function () {
      const start = await authorize({
        client_id: web.clientId,
        response_type: 'code',
        scope: 'openid',
        state: 'xyz',
        redirect_uri: 'https://grafana.example.test/login/generic_oauth',
      });
      const cookie = start.headers
        .getSetCookie()
        .map((c) => c.split(';')[0])
        .join('; ');
      const abort = await fetch(`${server.issuer}${start.headers.get('location')}/abort`, { headers: { cookie }, redirect: 'manual' });
      const resume = await fetch(abort.headers.get('location')!, {
        headers: { cookie: [cookie, ...abort.headers.getSetCookie().map((c) => c.split(';')[0])].join('; ') },
        redirect: 'manual',
      });
      const location = new URL(resume.headers.get('location')!);
      expect(location.origin + location.pathname).to.equal('https://grafana.example.test/login/generic_oauth');
      expect(location.searchParams.get('error')).to.equal('access_denied');
      expect(location.searchParams.get('state')).to.equal('xyz');
    });
  });

  describe('behind a TLS-terminating proxy', function () {
    let tls: TestServer;

    before(async function () {
      tls = await startTestServer({ issuer: 'https://id.example.test', trustProxy: true });
    });

    after(async function () {
      await tls?.close();
    });

    it('sets Secure, SameSite=None cookies and HSTS when the proxy says https', async function () {
      const client = await tls.services.clientStore.add({ name: 'App', redirectUris: ['https://app.example.test/cb'] });
      const local = `http://127.0.0.1:${tls.config.port}`;
      const response = await fetch(
        `${local}/auth?${new URLSearchParams({ client_id: client.clientId, response_type: 'code', scope: 'openid', redirect_uri: 'https://app.example.test/cb', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' }).toString()}`,
        { redirect: 'manual', headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'id.example.test' } },
      );
      expect(response.status).to.equal(303);
      const cookies = response.headers.getSetCookie();
      expect(cookies).to.have.lengthOf.above(0);
      for (const cookie of cookies) expect(cookie.toLowerCase()).to.contain('secure').and.contain('samesite=none').and.contain('httponly');
      expect(response.headers.get('strict-transport-security')).to.contain('max-age=');
    });

    it('accepts POST at the authorization endpoint (OIDC Core 3.1.2.1)', async function () {
      const client = await tls.services.clientStore.add({ name: 'Poster', redirectUris: ['https://app.example.test/cb'] });
      const response = await fetch(`http://127.0.0.1:${tls.config.port}/auth`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'x-forwarded-proto': 'https', 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          client_id: client.clientId,
          response_type: 'code',
          scope: 'openid',
          redirect_uri: 'https://app.example.test/cb',
          code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
          code_challenge_method: 'S256',
        }),
      });
      expect(response.status).to.equal(303);
      expect(response.headers.get('location')).to.match(/\/interaction\//);
    });
  });

  describe('pages the provider renders itself', function () {
    it('carry our security headers and layout: the error page', async function () {
      const response = await fetch(`${server.issuer}/auth?client_id=nope&response_type=code&scope=openid&redirect_uri=https://x.example`);
      expect(response.status).to.equal(400);
      expect(response.headers.get('content-security-policy')).to.contain("frame-ancestors 'none'");
      expect(response.headers.get('x-content-type-options')).to.equal('nosniff');
      const html = await response.text();
      expect(html).to.contain('lang="zh-CN"').and.contain('invalid_client');
    });
  });

  describe('userinfo', function () {
    it('answers 401 invalid_token without a valid bearer token', async function () {
      const response = await fetch(`${server.issuer}/me`, { headers: { authorization: 'Bearer nope' } });
      expect(response.status).to.equal(401);
      expect(response.headers.get('www-authenticate')).to.contain('invalid_token');
    });
  });
});
