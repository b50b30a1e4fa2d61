import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { resetState, TEST_DATABASE_URL, TEST_REDIS_URL } from '../helpers/bootstrap.js';
import { Browser } from '../helpers/browser.js';
import { exchangeCode, type LoginWorld, loginViaDingTalk, registerRelyingParty, startLoginWorld, USERS } from '../helpers/login-flow.js';

const run = promisify(execFile);
const BIN = path.resolve(import.meta.dirname, '../../bin/dingtalk-oidc.js');

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH, NODE_ENV: 'test', DATABASE_URL: TEST_DATABASE_URL, REDIS_URL: TEST_REDIS_URL },
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('command line: sessions and consents', function () {
  this.timeout(60_000);
  let world: LoginWorld;

  before(async function () {
    await resetState();
    world = await startLoginWorld();
  });

  after(async function () {
    await world?.close();
  });

  it('lists and revokes consents and sessions, with audit entries', async function () {
    const rp = await registerRelyingParty(world, { name: 'Wiki' }); // not first-party: consent is given
    const { callback, request } = await loginViaDingTalk(world, new Browser(), rp, USERS.admin);
    const tokens = await exchangeCode(rp, callback, request);

    const consents = JSON.parse((await cli(['consents', 'list', '--account', 'manager7421', '--json'])).stdout) as {
      items: { clientId: string }[];
    };
    expect(consents.items.map((c) => c.clientId)).to.include(rp.clientId);
    const sessions = JSON.parse((await cli(['sessions', 'list', '--account', 'manager7421', '--json'])).stdout) as {
      items: { uid: string; apps: { clientId: string }[] }[];
    };
    const mine = sessions.items.find((s) => s.apps.some((a) => a.clientId === rp.clientId))!;
    expect(mine.uid).to.be.a('string');

    expect((await cli(['consents', 'revoke', 'manager7421', rp.clientId])).code).to.equal(0);
    const revoked = await cli(['sessions', 'revoke', mine.uid]);
    expect(revoked.code, revoked.stderr).to.equal(0);
    expect((await oidc.tokenIntrospection(rp.config, tokens.access_token)).active).to.equal(false);

    const { AuditEvent } = world.server.services.db.models;
    for (const type of ['consent.revoked', 'session.revoked']) {
      const entry = await AuditEvent.findOne({ where: { type }, order: [['id', 'DESC']] });
      expect(entry?.actor, type).to.match(/^cli/);
    }
    expect((await cli(['sessions', 'revoke'])).code).to.equal(1);
  });
});
