/**
 * Service accounts: a client whose `service_roles` hold `admin` or `auditor` may call the admin
 * API with its own client_credentials token — automation without a person. The roles are read
 * again at every call, so taking them away (or removing the client) works at once.
 */
import { expect } from 'chai';
import { decodeJwt } from 'jose';
import type { LoginWorld } from '../../helpers/login-flow.js';
import { ADMIN, adminApiToken, api, startAdminWorld } from './harness.js';

describe('admin API: service accounts (client_credentials with service roles)', function () {
  let world: LoginWorld;
  let adminToken: string;
  let resource: string;
  let robot: { id: string; secret: string };

  before(async function () {
    world = await startAdminWorld();
    adminToken = await adminApiToken(world, ADMIN);
    resource = `${world.server.issuer}/admin`;
    robot = await serviceClient('robot-admin', ['admin']);
  });

  after(async function () {
    await world?.close();
  });

  /** Registers a service client through the API as the admin; its id and secret. */
  async function serviceClient(clientId: string, serviceRoles: string[]): Promise<{ id: string; secret: string }> {
    const res = await api(world, adminToken, 'POST', '/clients', {
      name: `Automation ${clientId}`,
      clientId,
      grantTypes: ['client_credentials'],
      allowedResources: { [resource]: [] },
      serviceRoles,
    });
    expect(res.status, res.text).to.equal(201);
    return { id: res.json.client.clientId, secret: res.json.clientSecret };
  }

  async function clientToken(client: { id: string; secret: string }, scope = 'admin:read admin:write', target = resource) {
    const response = await fetch(`${world.server.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: target, scope }),
    });
    const body = (await response.json()) as { access_token?: string; error?: string };
    expect(response.status, JSON.stringify(body)).to.equal(200);
    return body.access_token!;
  }

  const lastAudit = async (type: string) =>
    (await world.server.services.db.models.AuditEvent.findAll({ where: { type }, order: [['id', 'DESC']], limit: 1 }))[0];

  it('issues a JWT whose sub is the client and whose roles are its service roles', async function () {
    const token = await clientToken(robot);
    const claims = decodeJwt(token);
    expect(claims).to.include({ sub: 'robot-admin', client_id: 'robot-admin', aud: resource });
    expect(claims.roles).to.deep.equal(['admin']);
  });

  it('lets an admin service account read and change, audited as client:<id>', async function () {
    const token = await clientToken(robot);
    const me = await api(world, token, 'GET', '/me');
    expect(me.status).to.equal(200);
    expect(me.json).to.include({ accountId: 'client:robot-admin', level: 'admin', kind: 'client', name: 'Automation robot-admin' });
    expect((await api(world, token, 'GET', '/accounts?q=王')).status).to.equal(200);
    const created = await api(world, token, 'POST', '/roles', { name: 'made-by-robot' });
    expect(created.status, created.text).to.equal(201);
    const entry = await lastAudit('role.created');
    expect(entry?.actor).to.equal('client:robot-admin');
    expect(entry?.clientId).to.equal('robot-admin');
  });

  it('runs only the app-wide DingTalk checks for a service account (it has no DingTalk identity)', async function () {
    const token = await clientToken(robot);
    const res = await api(world, token, 'GET', '/dingtalk/health');
    expect(res.status, res.text).to.equal(200);
    const byName = Object.fromEntries(res.json.checks.map((c: { name: string }) => [c.name, c]));
    expect(byName.app_token.ok).to.equal(true);
    expect(byName.getbyunionid).to.include({ ok: null });
  });

  it('lets an auditor service account read but not change', async function () {
    const token = await clientToken(await serviceClient('robot-auditor', ['auditor']));
    expect((await api(world, token, 'GET', '/clients')).status).to.equal(200);
    const res = await api(world, token, 'POST', '/roles', { name: 'not-allowed' });
    expect(res.status).to.equal(403);
    expect(res.json.code).to.equal('admin.read_only');
  });

  it('refuses a client without admin service roles, and a token without the write scope for writes', async function () {
    const plain = await clientToken(await serviceClient('robot-plain', ['reporting']));
    expect(decodeJwt(plain).roles).to.deep.equal(['reporting']);
    const res = await api(world, plain, 'GET', '/accounts');
    expect(res.status).to.equal(403);
    expect(res.json.code).to.equal('admin.forbidden');

    const readOnly = await clientToken(robot, 'admin:read');
    expect((await api(world, readOnly, 'GET', '/accounts')).status).to.equal(200);
    expect((await api(world, readOnly, 'POST', '/roles', { name: 'nope' })).status).to.equal(403);
  });

  it('stops a live token at once when the service role is taken away or the client removed', async function () {
    const client = await serviceClient('robot-temp', ['admin']);
    const token = await clientToken(client);
    expect((await api(world, token, 'GET', '/accounts')).status).to.equal(200);

    const patched = await api(world, adminToken, 'PATCH', '/clients/robot-temp', { serviceRoles: ['reporting'] });
    expect(patched.status, patched.text).to.equal(200);
    expect(patched.json.serviceRoles).to.deep.equal(['reporting']);
    expect((await api(world, token, 'GET', '/accounts')).status).to.equal(403);

    await api(world, adminToken, 'PATCH', '/clients/robot-temp', { serviceRoles: ['admin'] });
    const fresh = await clientToken(client);
    expect((await api(world, fresh, 'GET', '/accounts')).status).to.equal(200);
    expect((await api(world, adminToken, 'DELETE', '/clients/robot-temp')).status).to.equal(200);
    expect((await api(world, fresh, 'GET', '/accounts')).status).to.equal(403);
  });

  it('refuses service roles without the client_credentials grant, and malformed role names', async function () {
    const noGrant = await api(world, adminToken, 'POST', '/clients', {
      name: 'web app',
      redirectUris: ['https://app.example.test/cb'],
      serviceRoles: ['admin'],
    });
    expect(noGrant.status).to.equal(400);
    expect(noGrant.json.code).to.equal('clients.invalid_metadata');
    expect(noGrant.json.message).to.match(/client_credentials/);
    const badName = await api(world, adminToken, 'POST', '/clients', {
      name: 'x',
      grantTypes: ['client_credentials'],
      serviceRoles: ['Not A Role'],
    });
    expect(badName.status).to.equal(400);
    expect(badName.json.code).to.equal('clients.invalid_metadata');
  });
});
