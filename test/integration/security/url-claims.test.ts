import { expect } from 'chai';
import * as oidc from 'openid-client';
import { resetState } from '../../helpers/bootstrap.js';
import { Browser } from '../../helpers/browser.js';
import { exchangeCode, type LoginWorld, loginViaDingTalk, registerRelyingParty, startLoginWorld, USERS } from '../../helpers/login-flow.js';

describe('security: URL claims from DingTalk are https only (real PostgreSQL and Redis)', function () {
  let world: LoginWorld;

  before(async function () {
    await resetState();
    world = await startLoginWorld();
  });

  after(async function () {
    await world?.close();
  });

  async function pictureAfterLogin(avatar: string): Promise<unknown> {
    const person = world.emulator.state.findByUnionId(USERS.boss)!;
    person.avatar = avatar;
    const rp = await registerRelyingParty(world, { name: 'Gallery', firstParty: true });
    const { callback, request } = await loginViaDingTalk(world, new Browser(), rp, USERS.boss, { scope: 'openid profile' });
    const tokens = await exchangeCode(rp, callback, request);
    const info = await oidc.fetchUserInfo(rp.config, tokens.access_token, tokens.claims()!.sub);
    return info.picture;
  }

  it('drops a javascript: or http: picture from DingTalk', async function () {
    expect(await pictureAfterLogin('javascript:alert(document.domain)')).to.equal(undefined);
    expect(await pictureAfterLogin('http://avatars.example.test/a.png')).to.equal(undefined);
    const account = await world.server.services.db.models.Account.findOne({ where: { unionId: USERS.boss } });
    expect(account!.avatarUrl).to.equal(null);
  });

  it('keeps an https picture', async function () {
    expect(await pictureAfterLogin('https://static-legacy.dingtalk.com/media/a_600_600.jpg')).to.equal(
      'https://static-legacy.dingtalk.com/media/a_600_600.jpg',
    );
  });
});
