import { expect } from 'chai';
import type { LoginWorld } from '../../helpers/login-flow.js';
import { ADMIN, AUDITOR, consoleLogin, startAdminWorld } from '../admin/harness.js';

describe('security: console CSRF tokens are bound to the admin session (real PostgreSQL and Redis)', function () {
  let world: LoginWorld;

  before(async function () {
    world = await startAdminWorld();
  });

  after(async function () {
    await world?.close();
  });

  it('refuses a POST carrying someone else’s token and planted CSRF cookie (cookie tossing)', async function () {
    const url = (path: string) => `${world.server.issuer}${path}`;
    const { browser: victim } = await consoleLogin(world, ADMIN);
    // The attacker gets a valid cookie + token pair of their own from any page with a form…
    const { browser: attacker } = await consoleLogin(world, AUDITOR);
    const page = await attacker.request(url('/admin/roles'));
    const token = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;
    // …plants its CSRF cookies in the admin's browser (a sibling subdomain, a plain-http response)…
    const origin = new URL(world.server.issuer).origin;
    for (const [name, value] of attacker.cookies(origin)) if (name.startsWith('_csrf')) victim.cookies(origin).set(name, value);
    // …and has the admin's browser post a form with its token.
    const forged = await victim.request(url('/admin/roles'), { form: { _csrf: token, name: 'planted' } });
    expect(forged.status).to.equal(403);
    expect(await world.server.services.db.models.Role.findOne({ where: { name: 'planted' } })).to.equal(null);
  });

  it('accepts the admin’s own form token', async function () {
    const { browser } = await consoleLogin(world, ADMIN);
    const page = await browser.request(`${world.server.issuer}/admin/roles`);
    const token = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;
    const created = await browser.request(`${world.server.issuer}/admin/roles`, { form: { _csrf: token, name: 'genuine' } });
    expect(created.status).to.equal(302);
    expect(await world.server.services.db.models.Role.findOne({ where: { name: 'genuine' } })).to.not.equal(null);
  });
});
