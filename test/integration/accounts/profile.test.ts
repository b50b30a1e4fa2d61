/**
 * The one identity → account mapping (accounts/profile.ts) on a real Postgres, with identities made
 * by the real DingTalk contract (dingtalk/index.ts) from the emulator: a field a refresh did not read
 * stays, a field DingTalk sent empty is cleared (issue #13 item 4, issue #12 item 4).
 */
import { expect } from 'chai';
import { createProvisioning } from '../../../src/accounts/provisioning.js';
import { createDingTalk, createMemoryCorpTokenCache, type DingTalk, type UpstreamIdentity } from '../../../src/dingtalk/index.js';
import { createDatabase, type Database } from '../../../src/db/sequelize.js';
import { resetState, TEST_DATABASE_URL } from '../../helpers/bootstrap.js';
import { CLIENT_ID, CLIENT_SECRET, CORP_ID, loginViaPage, PEOPLE, REDIRECT_URI, startEmulator, type Harness } from '../dingtalk/harness.js';

describe('accounts: one DingTalk identity → account mapping (Postgres + emulator)', function () {
  let db: Database;
  let harness: Harness;
  let dingtalk: DingTalk;

  async function webLogin(unionId: string): Promise<UpstreamIdentity> {
    const location = await loginViaPage(dingtalk.signIn.authorizationUrl({ redirectUri: REDIRECT_URI, state: 's' }), { unionId });
    return dingtalk.signIn.identityFromCode(location.searchParams.get('authCode') ?? '');
  }

  function freeLogin(userid: string): Promise<UpstreamIdentity> {
    return dingtalk.signIn.identityFromFreeLoginCode(harness.emulator.state.issueFreeLoginCode(userid));
  }

  before(async function () {
    await resetState();
    db = createDatabase(TEST_DATABASE_URL, { poolMax: 4 });
    harness = await startEmulator();
    dingtalk = createDingTalk({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      corpId: CORP_ID,
      loginBaseUrl: harness.url,
      apiBaseUrl: harness.url,
      oapiBaseUrl: harness.url,
      timeoutMs: 2000,
      tokenCache: createMemoryCorpTokenCache(),
    });
  });

  beforeEach(async function () {
    await resetState();
  });

  after(async function () {
    await harness?.server.close();
    await db?.close();
  });

  it('free login keeps the nickname, avatar and personal email the web login stored (it reads no users/me)', async function () {
    const provisioning = createProvisioning(db.sequelize, db.models);
    const { userid, unionid } = PEOPLE.noEmail;
    harness.emulator.state.setProfile(userid, { nick: '洋洋', personal_email: 'liuyang@personal.example' });

    const web = await provisioning.signIn(await webLogin(unionid));
    expect(web).to.deep.include({ nickname: '洋洋', email: 'liuyang@personal.example', emailVerified: false });
    expect(web.avatarUrl).to.match(/^https:\/\//);

    // The directory record has no custom avatar now; free login reads only the directory record.
    harness.emulator.state.setProfile(userid, { avatar: undefined });
    const free = await provisioning.signIn(await freeLogin(userid));
    expect(free.id).to.equal(web.id);
    expect(free).to.deep.include({
      name: '刘洋',
      nickname: '洋洋',
      email: 'liuyang@personal.example',
      avatarUrl: web.avatarUrl,
      title: '品牌经理',
      jobNumber: 'A0205',
    });
  });

  it('clears what DingTalk sent empty and copies what changed, at free login and web login alike', async function () {
    const provisioning = createProvisioning(db.sequelize, db.models);
    const { userid, unionid } = PEOPLE.platform;
    const first = await provisioning.signIn(await webLogin(unionid));
    expect(first).to.deep.include({ title: '高级后端工程师', jobNumber: 'A0103', managerUserId: PEOPLE.admin.userid });
    expect(first.hiredAt?.toISOString()).to.equal('2019-07-01T00:00:00.000Z');

    // An admin blanks the title and the job number (user/get then sends "") and changes the manager.
    harness.emulator.state.setProfile(userid, { title: '', job_number: '', manager_userid: PEOPLE.boss.userid });
    const free = await provisioning.signIn(await freeLogin(userid));
    expect(free).to.deep.include({ title: null, jobNumber: null, managerUserId: PEOPLE.boss.userid });
    // Verified organisation mail is untouched by the refresh (still sent).
    expect(free).to.deep.include({ email: 'lina@yunqi-tech.cn', emailVerified: true });
  });

  it('a directory read without users/me never clears a personal email (the account keeps it)', async function () {
    const provisioning = createProvisioning(db.sequelize, db.models);
    const { userid, unionid } = PEOPLE.noEmail;
    harness.emulator.state.setProfile(userid, { personal_email: 'liuyang@personal.example' });
    const account = await provisioning.signIn(await webLogin(unionid));
    const member = await dingtalk.directory.member(userid);
    expect(member).not.to.equal(null);
    // user/get sends `email: ""` here, but users/me (the personal mail's source) was not read.
    expect(member).not.to.have.property('email');
    expect(member).not.to.have.property('nickname');
    const again = await provisioning.signIn(member!);
    expect(again.id).to.equal(account.id);
    expect(again.email).to.equal('liuyang@personal.example');
  });

  it('a new account from the directory alone gets its name as nickname and the fallback email', async function () {
    const provisioning = createProvisioning(db.sequelize, db.models, { emailFallbackDomain: 'corp.example' });
    const account = await provisioning.signIn(await freeLogin(PEOPLE.noEmail.userid));
    expect(account).to.deep.include({ nickname: '刘洋', email: `${PEOPLE.noEmail.userid}@corp.example`, emailVerified: false });
  });
});
