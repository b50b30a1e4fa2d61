import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { Browser } from '../../helpers/browser.js';
import { exchangeCode, type LoginWorld, loginViaDingTalk, registerRelyingParty } from '../../helpers/login-flow.js';
import { api, EMPLOYEE, startAdminApiWorld } from './harness.js';

describe('admin API: clients, resource servers, sessions, consents, keys, DingTalk', function () {
  let world: LoginWorld;
  let adminToken: string;
  let auditorToken: string;
  let employeeToken: string;
  let adminId: string;
  let employeeId: string;

  before(async function () {
    ({ world, adminToken, auditorToken, employeeToken, adminId, employeeId } = await startAdminApiWorld());
  });

  after(async function () {
    await world?.close();
  });

  const lastAudit = async (type: string) =>
    (await world.server.services.db.models.AuditEvent.findAll({ where: { type }, order: [['id', 'DESC']], limit: 1 }))[0];

  describe('permissions of every new operation', function () {
    const reads = [
      '/clients',
      '/clients/presets',
      '/clients/admin-console',
      '/resource-servers',
      '/sessions',
      '/consents',
      '/keys',
      '/dingtalk/health',
    ];
    const writes: [string, string, unknown][] = [
      ['POST', '/clients', { name: 'x', redirectUris: ['https://x.example.test/cb'] }],
      ['PATCH', '/clients/demo-x', { name: 'y' }],
      ['DELETE', '/clients/demo-x', undefined],
      ['POST', '/clients/demo-x/rotate-secret', {}],
      ['POST', '/resource-servers', { identifier: 'https://api.example.test/x' }],
      ['DELETE', '/resource-servers?identifier=https%3A%2F%2Fapi.example.test%2Fx', undefined],
      ['DELETE', '/sessions/abc', undefined],
      ['POST', '/accounts/manager7421/apps/x/revoke', {}],
      ['DELETE', '/consents/manager7421/x', undefined],
      ['POST', '/keys/rotate', { alg: 'ES256' }],
      ['POST', '/keys/abc/retire', {}],
    ];

    it('answers 401 without a token and 403 to an ordinary employee, for reads and writes', async function () {
      for (const path of reads) {
        expect((await api(world, undefined, 'GET', path)).status, path).to.equal(401);
        expect((await api(world, employeeToken, 'GET', path)).status, path).to.equal(403);
      }
      for (const [method, path, body] of writes) {
        expect((await api(world, undefined, method, path, body)).status, `${method} ${path}`).to.equal(401);
        const res = await api(world, employeeToken, method, path, body);
        expect(res.status, `${method} ${path}`).to.equal(403);
        expect(res.json.code).to.equal('admin.forbidden');
      }
    });

    it('lets an auditor read everything and change nothing', async function () {
      for (const path of reads) expect((await api(world, auditorToken, 'GET', path)).status, path).to.equal(200);
      for (const [method, path, body] of writes) {
        const res = await api(world, auditorToken, method, path, body);
        expect(res.status, `${method} ${path}`).to.equal(403);
        expect(res.json.code, `${method} ${path}`).to.equal('admin.read_only');
      }
    });
  });

  describe('clients', function () {
    it('creates a client from the Grafana preset, shows its secret once, never again', async function () {
      const res = await api(world, adminToken, 'POST', '/clients', { preset: 'grafana', baseUrl: 'https://grafana.example.test/' });
      expect(res.status).to.equal(201);
      expect(res.headers.get('cache-control')).to.equal('no-store');
      expect(res.json.clientSecret).to.match(/^[A-Za-z0-9_-]{43}$/);
      expect(res.json.client).to.deep.include({
        name: 'Grafana',
        firstParty: true,
        redirectUris: ['https://grafana.example.test/login/generic_oauth'],
        postLogoutRedirectUris: ['https://grafana.example.test/login'],
        tokenEndpointAuthMethod: 'client_secret_basic',
        idTokenClaims: ['roles', 'groups'],
      });
      const id = res.json.client.clientId as string;
      const shown = await api(world, adminToken, 'GET', `/clients/${id}`);
      expect(shown.text).not.to.include(res.json.clientSecret);
      const listed = await api(world, adminToken, 'GET', '/clients?q=grafana');
      expect(listed.json.items.map((c: { clientId: string }) => c.clientId)).to.include(id);
      expect(listed.text).not.to.include(res.json.clientSecret);
      const event = await lastAudit('client.created');
      expect(event!.actor).to.equal(adminId);
      expect(JSON.stringify(event!.details)).not.to.include(res.json.clientSecret);
    });

    it('fills Jenkins, GitLab and Argo CD settings from their presets', async function () {
      const jenkins = await api(world, adminToken, 'POST', '/clients', { preset: 'jenkins', baseUrl: 'https://ci.example.test' });
      expect(jenkins.json.client).to.deep.include({
        redirectUris: ['https://ci.example.test/securityRealm/finishLogin'],
        postLogoutRedirectUris: ['https://ci.example.test/OicLogout'],
        tokenEndpointAuthMethod: 'client_secret_post',
        groupsIncludeDepartments: true,
      });
      const gitlab = await api(world, adminToken, 'POST', '/clients', {
        preset: 'gitlab',
        baseUrl: 'https://git.example.test',
        name: 'Our GitLab',
      });
      expect(gitlab.json.client).to.deep.include({
        name: 'Our GitLab',
        redirectUris: ['https://git.example.test/users/auth/openid_connect/callback'],
      });
      const argo = await api(world, adminToken, 'POST', '/clients', { preset: 'argocd', baseUrl: 'https://argocd.example.test' });
      expect(argo.json.client).to.deep.include({ redirectUris: ['https://argocd.example.test/auth/callback'], idTokenClaims: ['groups'] });
      const noBase = await api(world, adminToken, 'POST', '/clients', { preset: 'argocd' });
      expect(noBase.status).to.equal(400);
      expect(noBase.json.code).to.equal('clients.invalid_metadata');
    });

    it('refuses invalid metadata with oidc-provider’s reason', async function () {
      const res = await api(world, adminToken, 'POST', '/clients', { name: 'Bad', redirectUris: ['not a uri'] });
      expect(res.status).to.equal(400);
      expect(res.json.code).to.equal('clients.invalid_metadata');
      expect(res.json.message).to.match(/redirect_uris/);
      const fragment = await api(world, adminToken, 'POST', '/clients', { name: 'Bad', redirectUris: ['https://x.example.test/cb#frag'] });
      expect(fragment.status).to.equal(400);
      const badType = await api(world, adminToken, 'POST', '/clients', { name: 'Bad', redirectUris: 'https://x' });
      expect(badType.status).to.equal(400);
      expect(badType.json.code).to.equal('admin.invalid_request');
    });

    it('edits a client, keeping its secret and what was not changed, and audits the changed fields', async function () {
      const created = await api(world, adminToken, 'POST', '/clients', {
        name: 'Wiki',
        clientId: 'wiki',
        redirectUris: ['https://wiki.example.test/cb'],
        tokenEndpointAuthMethod: 'client_secret_post',
      });
      expect(created.status).to.equal(201);
      const secret = created.json.clientSecret as string;
      const res = await api(world, adminToken, 'PATCH', '/clients/wiki', {
        name: 'Team wiki',
        postLogoutRedirectUris: ['https://wiki.example.test/bye'],
        backchannelLogoutUri: 'https://wiki.example.test/backchannel',
        firstParty: true,
        accessPolicy: { roles: ['auditor'], departments: [2] },
        idTokenClaims: ['roles'],
        allowedResources: { [`${world.server.issuer}/admin`]: ['admin:read'] },
      });
      expect(res.status).to.equal(200);
      expect(res.json).to.deep.include({
        name: 'Team wiki',
        redirectUris: ['https://wiki.example.test/cb'],
        tokenEndpointAuthMethod: 'client_secret_post',
        backchannelLogoutUri: 'https://wiki.example.test/backchannel',
        firstParty: true,
        accessPolicy: { roles: ['auditor'], departments: [2] },
        idTokenClaims: ['roles'],
      });
      const metadata = await world.server.services.clientStore.providerMetadata('wiki');
      expect(metadata!.client_secret).to.equal(secret);
      expect(metadata!.access_policy).to.deep.equal({ roles: ['auditor'], departments: [2] });
      const event = await lastAudit('client.updated');
      expect(event!.actor).to.equal(adminId);
      expect(event!.details.changed).to.include.members(['name', 'firstParty', 'accessPolicy', 'backchannelLogoutUri']);

      const cleared = await api(world, adminToken, 'PATCH', '/clients/wiki', {
        backchannelLogoutUri: null,
        idTokenClaims: null,
        accessPolicy: {},
      });
      expect(cleared.json).to.deep.include({
        backchannelLogoutUri: null,
        idTokenClaims: null,
        accessPolicy: { roles: [], departments: [] },
      });

      const invalid = await api(world, adminToken, 'PATCH', '/clients/wiki', { redirectUris: ['ftp://wiki'] });
      expect(invalid.status).to.equal(400);
      expect((await api(world, adminToken, 'GET', '/clients/wiki')).json.redirectUris).to.deep.equal(['https://wiki.example.test/cb']);
      expect((await api(world, adminToken, 'PATCH', '/clients/nope', { name: 'x' })).status).to.equal(404);
    });

    describe('private_key_jwt, jwksUri and scope', function () {
      let jwks: Server;
      let jwksUri: string;
      let privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

      before(async function () {
        const pair = await generateKeyPair('ES256', { extractable: true });
        privateKey = pair.privateKey;
        const key = { ...(await exportJWK(pair.publicKey)), kid: 'signer-1', alg: 'ES256', use: 'sig' };
        jwks = createServer((_req, res) => {
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ keys: [key] }));
        });
        await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
        jwksUri = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks`;
      });

      after(async function () {
        await new Promise((resolve) => jwks?.close(resolve));
      });

      const assertion = (clientId: string) =>
        new SignJWT({})
          .setProtectedHeader({ alg: 'ES256', kid: 'signer-1' })
          .setIssuer(clientId)
          .setSubject(clientId)
          .setAudience(world.server.issuer)
          .setJti(randomUUID())
          .setIssuedAt()
          .setExpirationTime('1m')
          .sign(privateKey);

      it('registers a private_key_jwt client with its jwksUri and scope, shows them but no secret, and lets it get tokens', async function () {
        const created = await api(world, adminToken, 'POST', '/clients', {
          name: 'Signer',
          clientId: 'signer',
          redirectUris: ['https://signer.example.test/cb'],
          grantTypes: ['authorization_code', 'client_credentials'],
          tokenEndpointAuthMethod: 'private_key_jwt',
          jwksUri,
          scope: 'openid  profile',
        });
        expect(created.status, created.text).to.equal(201);
        expect(created.json).not.to.have.property('clientSecret');
        expect(created.json.client).to.deep.include({
          tokenEndpointAuthMethod: 'private_key_jwt',
          jwksUri,
          scope: 'openid profile',
          public: false,
        });

        const shown = await api(world, adminToken, 'GET', '/clients/signer');
        expect(shown.json).to.deep.include({ jwksUri, scope: 'openid profile' });
        expect(shown.text).not.to.match(/secret/i);
        const metadata = await world.server.services.clientStore.providerMetadata('signer');
        expect(metadata).to.deep.include({ token_endpoint_auth_method: 'private_key_jwt', jwks_uri: jwksUri, scope: 'openid profile' });
        expect(metadata).not.to.have.property('client_secret');

        const response = await fetch(`${world.server.issuer}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            grant_type: 'client_credentials',
            client_id: 'signer',
            client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
            client_assertion: await assertion('signer'),
          }),
        });
        expect(response.status, await response.clone().text()).to.equal(200);
        expect(await response.json()).to.have.property('access_token');
      });

      it('clears the scope with null, keeping the jwksUri, and audits the change', async function () {
        const res = await api(world, adminToken, 'PATCH', '/clients/signer', { scope: null });
        expect(res.status, res.text).to.equal(200);
        expect(res.json).to.deep.include({ scope: null, jwksUri, tokenEndpointAuthMethod: 'private_key_jwt' });
        expect((await api(world, adminToken, 'GET', '/clients/signer')).json.scope).to.equal(null);
        expect(await world.server.services.clientStore.providerMetadata('signer')).not.to.have.property('scope');
        expect((await lastAudit('client.updated'))!.details).to.deep.include({ client: 'signer', changed: ['scope'], scope: null });

        const scoped = await api(world, adminToken, 'PATCH', '/clients/signer', { scope: 'openid email' });
        expect(scoped.json).to.deep.include({ scope: 'openid email', jwksUri });
      });

      it('refuses private_key_jwt without a jwksUri with oidc-provider’s reason', async function () {
        const created = await api(world, adminToken, 'POST', '/clients', {
          name: 'Keyless',
          grantTypes: ['client_credentials'],
          tokenEndpointAuthMethod: 'private_key_jwt',
        });
        expect(created.status).to.equal(400);
        expect(created.json).to.deep.equal({ code: 'clients.invalid_metadata', message: 'jwks or jwks_uri is mandatory for this client' });

        const cleared = await api(world, adminToken, 'PATCH', '/clients/signer', { jwksUri: null });
        expect(cleared.status).to.equal(400);
        expect(cleared.json).to.deep.equal({ code: 'clients.invalid_metadata', message: 'jwks or jwks_uri is mandatory for this client' });
        expect((await api(world, adminToken, 'GET', '/clients/signer')).json.jwksUri).to.equal(jwksUri);

        const badScope = await api(world, adminToken, 'PATCH', '/clients/signer', { scope: 'openid no-such-scope' });
        expect(badScope.status).to.equal(400);
        expect(badScope.json.message).to.match(/scope must only contain/);
        const badType = await api(world, adminToken, 'PATCH', '/clients/signer', { jwksUri: 42 });
        expect(badType.status).to.equal(400);
        expect(badType.json.code).to.equal('admin.invalid_request');
      });

      it('switches between secret methods, keeping the secret, and refuses a switch between a secret and private_key_jwt', async function () {
        const created = await api(world, adminToken, 'POST', '/clients', {
          name: 'Switcher',
          clientId: 'switcher',
          grantTypes: ['client_credentials'],
        });
        const secret = created.json.clientSecret as string;
        const post = await api(world, adminToken, 'PATCH', '/clients/switcher', { tokenEndpointAuthMethod: 'client_secret_post' });
        expect(post.status, post.text).to.equal(200);
        expect(post.json).to.deep.include({ tokenEndpointAuthMethod: 'client_secret_post', jwksUri: null });
        expect((await world.server.services.clientStore.providerMetadata('switcher'))!.client_secret).to.equal(secret);

        const toKeys = await api(world, adminToken, 'PATCH', '/clients/switcher', { tokenEndpointAuthMethod: 'private_key_jwt', jwksUri });
        expect(toKeys.status).to.equal(400);
        expect(toKeys.json).to.deep.include({ code: 'clients.invalid_metadata' });
        expect(toKeys.json.message).to.match(/authenticates with a secret: it cannot switch to private_key_jwt/);
        const toSecret = await api(world, adminToken, 'PATCH', '/clients/signer', { tokenEndpointAuthMethod: 'client_secret_basic' });
        expect(toSecret.status).to.equal(400);
        expect(toSecret.json.message).to.match(/has no secret: it cannot switch to client_secret_basic/);
        expect((await api(world, adminToken, 'GET', '/clients/signer')).json.tokenEndpointAuthMethod).to.equal('private_key_jwt');
      });
    });

    it('rotates a secret (returned once), refuses the console’s own client, deletes', async function () {
      const before = (await world.server.services.clientStore.providerMetadata('wiki'))!.client_secret;
      const rotated = await api(world, adminToken, 'POST', '/clients/wiki/rotate-secret', {});
      expect(rotated.status).to.equal(200);
      expect(rotated.headers.get('cache-control')).to.equal('no-store');
      expect(rotated.json.clientSecret).to.be.a('string').and.not.equal(before);
      expect((await world.server.services.clientStore.providerMetadata('wiki'))!.client_secret).to.equal(rotated.json.clientSecret);
      expect(JSON.stringify((await lastAudit('client.secret_rotated'))!.details)).not.to.include(rotated.json.clientSecret);

      for (const [method, path] of [
        ['PATCH', '/clients/admin-console'],
        ['DELETE', '/clients/admin-console'],
        ['POST', '/clients/admin-console/rotate-secret'],
      ] as const) {
        const res = await api(world, adminToken, method, path, {});
        expect(res.status, `${method} ${path}`).to.equal(409);
        expect(res.json.code).to.equal('clients.protected');
      }

      const removed = await api(world, adminToken, 'DELETE', '/clients/wiki');
      expect(removed.json).to.deep.equal({ clientId: 'wiki', removed: true, consents: 0, grants: 0, sessions: 0 });
      expect((await api(world, adminToken, 'GET', '/clients/wiki')).status).to.equal(404);
      expect((await lastAudit('client.removed'))!.details.client).to.equal('wiki');
    });
  });

  describe('resource servers', function () {
    it('creates, lists and deletes one; the admin API’s own is protected', async function () {
      const created = await api(world, adminToken, 'POST', '/resource-servers', {
        identifier: 'https://orders.example.test/api',
        name: 'Orders',
        scopes: ['orders:read'],
      });
      expect(created.status).to.equal(201);
      expect(created.json).to.include({ identifier: 'https://orders.example.test/api', tokenFormat: 'jwt' });
      expect(
        (await api(world, adminToken, 'POST', '/resource-servers', { identifier: 'https://orders.example.test/api' })).status,
      ).to.equal(409);
      expect((await api(world, adminToken, 'POST', '/resource-servers', { identifier: 'not-a-uri' })).status).to.equal(400);
      const list = await api(world, adminToken, 'GET', '/resource-servers');
      expect(list.json.items.map((r: { identifier: string }) => r.identifier)).to.include('https://orders.example.test/api');
      const removed = await api(
        world,
        adminToken,
        'DELETE',
        `/resource-servers?identifier=${encodeURIComponent('https://orders.example.test/api')}`,
      );
      expect(removed.status).to.equal(200);
      expect((await lastAudit('resource_server.removed'))!.actor).to.equal(adminId);
      const own = await api(
        world,
        adminToken,
        'DELETE',
        `/resource-servers?identifier=${encodeURIComponent(`${world.server.issuer}/admin`)}`,
      );
      expect(own.status).to.equal(409);
    });
  });

  describe('sessions and consents', function () {
    it('lists sessions with account and client filters, and revokes one session', async function () {
      const rp = await registerRelyingParty(world, { name: 'Session app' });
      const { callback, request } = await loginViaDingTalk(world, new Browser(), rp, EMPLOYEE);
      await exchangeCode(rp, callback, request);
      const all = await api(world, adminToken, 'GET', '/sessions?pageSize=50');
      expect(all.status).to.equal(200);
      expect(all.json.unit).to.equal('accounts');
      expect(all.json.items.map((s: { accountId: string }) => s.accountId)).to.include.members([adminId, employeeId]);
      const mine = await api(world, adminToken, 'GET', `/sessions?account=${EMPLOYEE}&client=${rp.clientId}`);
      expect(mine.json.items).to.have.length(1);
      const session = mine.json.items[0];
      expect(session.apps.map((a: { clientId: string }) => a.clientId)).to.include(rp.clientId);
      expect(JSON.stringify(all.json)).not.to.match(/"id":/);

      const revoked = await api(world, adminToken, 'DELETE', `/sessions/${session.uid}`);
      expect(revoked.status).to.equal(200);
      expect(revoked.json).to.include({ accountId: employeeId });
      expect(revoked.json.grants).to.be.greaterThan(0);
      expect((await api(world, adminToken, 'GET', `/sessions?account=${EMPLOYEE}&client=${rp.clientId}`)).json.items).to.have.length(0);
      expect((await api(world, adminToken, 'DELETE', `/sessions/${session.uid}`)).status).to.equal(404);
      expect((await lastAudit('session.revoked'))!.accountId).to.equal(employeeId);
    });

    it('revokes what an account has at one app, leaving its other apps', async function () {
      const rp = await registerRelyingParty(world, { name: 'App A' });
      const other = await registerRelyingParty(world, { name: 'App B' });
      const a = await loginViaDingTalk(world, new Browser(), rp, EMPLOYEE);
      const tokens = await exchangeCode(rp, a.callback, a.request);
      const b = await loginViaDingTalk(world, new Browser(), other, EMPLOYEE);
      await exchangeCode(other, b.callback, b.request);
      const res = await api(world, adminToken, 'POST', `/accounts/${employeeId}/apps/${rp.clientId}/revoke`, {});
      expect(res.status).to.equal(200);
      expect(res.json.grants).to.be.greaterThan(0);
      const introspected = await world.server.services.holder.current().AccessToken.find(tokens.access_token);
      expect(introspected).to.equal(undefined);
      const sessions = await api(world, adminToken, 'GET', `/sessions?account=${employeeId}`);
      const apps = sessions.json.items.flatMap((s: { apps: { clientId: string }[] }) => s.apps.map((x) => x.clientId));
      expect(apps).to.include(other.clientId);
      expect(apps).not.to.include(rp.clientId);
      expect((await lastAudit('account.app_revoked'))!.details.client).to.equal(rp.clientId);
    });

    it('lists consents with filters and revokes one', async function () {
      const { Consent } = world.server.services.db.models;
      await Consent.create({ accountId: employeeId, clientId: 'some-app', scopes: ['openid', 'email'], claims: [], resourceScopes: {} });
      await Consent.create({ accountId: adminId, clientId: 'some-app', scopes: ['openid'], claims: [], resourceScopes: {} });
      const all = await api(world, adminToken, 'GET', '/consents?client=some-app');
      expect(all.json.total).to.equal(2);
      const one = await api(world, adminToken, 'GET', `/consents?client=some-app&account=${EMPLOYEE}&pageSize=1`);
      expect(one.json).to.include({ total: 1, pageSize: 1 });
      expect(one.json.items[0]).to.include({ accountId: employeeId, clientId: 'some-app' });
      const revoked = await api(world, adminToken, 'DELETE', `/consents/${employeeId}/some-app`);
      expect(revoked.status).to.equal(200);
      expect((await api(world, adminToken, 'DELETE', `/consents/${employeeId}/some-app`)).status).to.equal(404);
      expect((await api(world, adminToken, 'GET', '/consents?client=some-app')).json.total).to.equal(1);
      expect((await lastAudit('consent.revoked'))!.actor).to.equal(adminId);
    });
  });

  describe('keys', function () {
    it('lists, rotates (normal and immediate) and retires, refusing to retire the last signing key', async function () {
      const list = await api(world, adminToken, 'GET', '/keys');
      expect(list.json.items.some((k: { current: boolean; alg: string }) => k.current && k.alg === 'ES256')).to.equal(true);
      expect(list.text).not.to.match(/"d":/);
      const original = list.json.items.find((k: { current: boolean; alg: string }) => k.current && k.alg === 'ES256').kid;
      const last = await api(world, adminToken, 'POST', `/keys/${original}/retire`, {});
      expect(last.status).to.equal(409);
      const rotated = await api(world, adminToken, 'POST', '/keys/rotate', { alg: 'ES256', immediate: true });
      expect(rotated.status).to.equal(201);
      expect(rotated.json).to.include({ alg: 'ES256', current: true });
      const normal = await api(world, adminToken, 'POST', '/keys/rotate', { alg: 'ES256' });
      expect(normal.status).to.equal(201);
      expect((await api(world, adminToken, 'POST', '/keys/rotate', { alg: 'HS256' })).status).to.equal(400);
      const retired = await api(world, adminToken, 'POST', `/keys/${original}/retire`, {});
      expect(retired.json).to.deep.equal({ kid: original, retired: true });
      const after = await api(world, adminToken, 'GET', '/keys');
      expect(after.json.items.find((k: { kid: string }) => k.kid === original).status).to.equal('retired');
      expect((await lastAudit('key.retired'))!.details.kid).to.equal(original);
      expect((await lastAudit('key.rotated'))!.actor).to.equal(adminId);
    });
  });

  describe('DingTalk health', function () {
    it('tries each call with the admin’s own identity and shows the event callback', async function () {
      const res = await api(world, adminToken, 'GET', '/dingtalk/health');
      expect(res.status).to.equal(200);
      const byName = Object.fromEntries(res.json.checks.map((c: { name: string; ok: boolean }) => [c.name, c.ok]));
      expect(byName).to.deep.include({ app_token: true, getbyunionid: true, user_get: true, department_get: true, users_me: true });
      expect(res.json.callbackUrl).to.equal(`${world.server.issuer}/dingtalk/events`);
      expect(res.json).to.have.property('eventToken');
    });
  });
});
