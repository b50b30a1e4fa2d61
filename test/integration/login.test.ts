import { expect } from 'chai';
import * as oidc from 'openid-client';
import { useridKey } from '../../src/dingtalk/index.js';
import { Browser, formOf } from '../helpers/browser.js';
import { resetState } from '../helpers/bootstrap.js';
import {
  answerConsent,
  authorize,
  exchangeCode,
  type LoginWorld,
  loginViaDingTalk,
  openDingTalkPicker,
  pickInDingTalk,
  registerRelyingParty,
  type RelyingParty,
  startLoginWorld,
  USERS,
} from '../helpers/login-flow.js';

describe('login with DingTalk (emulator, real Postgres and Redis)', function () {
  let world: LoginWorld;
  let rp: RelyingParty;

  before(async function () {
    await resetState();
    world = await startLoginWorld();
    rp = await registerRelyingParty(world);
  });

  after(async function () {
    await world?.close();
  });

  afterEach(function () {
    world.emulator.state.clearFaults();
  });

  describe('a full authorization code flow', function () {
    let tokens: Awaited<ReturnType<typeof exchangeCode>>;
    let sub: string;

    it('signs in, consents, and gets tokens with PKCE, state and nonce checked', async function () {
      const browser = new Browser();
      const { callback, request } = await loginViaDingTalk(world, browser, rp, USERS.admin, {
        scope: 'openid profile email phone roles dingtalk offline_access',
        prompt: 'consent',
      });
      expect(callback.searchParams.get('state')).to.equal(request.state);
      tokens = await exchangeCode(rp, callback, request);
      const claims = tokens.claims()!;
      sub = claims.sub;
      expect(claims.iss).to.equal(world.server.issuer);
      expect(claims.aud).to.equal(rp.clientId);
      expect(claims.nonce).to.equal(request.nonce);
      expect(tokens.refresh_token).to.be.a('string');
    });

    it('returns the DingTalk profile from userinfo', async function () {
      const info = await oidc.fetchUserInfo(rp.config, tokens.access_token, sub);
      expect(info).to.include({
        sub,
        name: '王建国',
        preferred_username: 'manager7421',
        email: 'wangjianguo@yunqi-tech.cn',
        email_verified: true,
        phone_number: '+8613900000002',
        dingtalk_union_id: USERS.admin,
        dingtalk_user_id: 'manager7421',
        dingtalk_corp_id: world.emulator.state.corpId,
      });
      expect(info.roles).to.deep.equal([]);
      expect(info.departments).to.be.an('array').with.lengthOf.above(0);
      // Employee fields (issue #13 item 6), from the emulator's directory record of this person.
      const record = world.emulator.state.findMember('manager7421')!;
      expect(info.dingtalk_job_number).to.equal(record.job_number);
      expect(info.dingtalk_manager_user_id).to.equal(record.manager_userid);
      expect(info.dingtalk_hired_date).to.equal(new Date(record.hired_date! + 8 * 3600_000).toISOString().slice(0, 10));
    });

    it('refreshes the tokens', async function () {
      const refreshed = await oidc.refreshTokenGrant(rp.config, tokens.refresh_token!);
      expect(refreshed.access_token).to.be.a('string').and.not.equal(tokens.access_token);
      expect(refreshed.claims()?.sub).to.equal(sub);
    });

    it('logs out through RP-initiated logout', async function () {
      const browser = new Browser();
      const again = await loginViaDingTalk(world, browser, rp, USERS.admin);
      const fresh = await exchangeCode(rp, again.callback, again.request);
      const logout = oidc.buildEndSessionUrl(rp.config, {
        id_token_hint: fresh.id_token!,
        post_logout_redirect_uri: 'https://rp.example.test/logged-out',
        state: 'bye',
      });
      const confirm = await browser.follow(logout.toString(), [world.server.issuer]);
      expect(confirm.status).to.equal(200);
      expect(confirm.text).to.contain('退出登录').and.contain('lang="zh-CN"');
      expect(confirm.headers.get('content-security-policy')).to.contain("frame-ancestors 'none'");
      expect(confirm.headers.get('cache-control')).to.contain('no-store');
      const form = formOf(confirm.text, '/session/end/confirm');
      const done = await browser.request(new URL(form.action, world.server.issuer).toString(), {
        form: { ...form.fields, logout: 'yes' },
      });
      expect(done.status).to.equal(303);
      expect(done.headers.get('location')).to.equal('https://rp.example.test/logged-out?state=bye');
      // The session is gone: the next authorization asks DingTalk again.
      const next = await authorize(rp, { prompt: 'none' });
      const answer = await browser.follow(next.url.toString(), [world.server.issuer]);
      expect(new URL(answer.headers.get('location')!).searchParams.get('error')).to.equal('login_required');
    });
  });

  it('gives the same person the same sub every time, and remembers consent', async function () {
    const first = await loginViaDingTalk(world, new Browser(), rp, USERS.boss);
    const a = await exchangeCode(rp, first.callback, first.request);
    const request = await authorize(rp);
    const browser = new Browser();
    const picker = await openDingTalkPicker(world, browser, request.url);
    const page = await pickInDingTalk(world, browser, picker, USERS.boss);
    expect(page.status, 'no consent page the second time').to.equal(303);
    const b = await exchangeCode(rp, new URL(page.headers.get('location')!), request);
    expect(b.claims()!.sub).to.equal(a.claims()!.sub);
  });

  it('shows profile changes made in DingTalk after the next login', async function () {
    await loginViaDingTalk(world, new Browser(), rp, USERS.noEmail);
    world.emulator.state.setProfile(USERS.noEmail, { name: '刘洋（新）', title: '架构师' });
    const again = await loginViaDingTalk(world, new Browser(), rp, USERS.noEmail);
    const tokens = await exchangeCode(rp, again.callback, again.request);
    const info = await oidc.fetchUserInfo(rp.config, tokens.access_token, tokens.claims()!.sub);
    expect(info.name).to.equal('刘洋（新）');
    expect(info.title).to.equal('架构师');
    expect(info.email).to.equal(undefined);
  });

  it('puts requested claims in the ID token through the claims parameter (Argo CD, Grafana)', async function () {
    const { callback, request } = await loginViaDingTalk(world, new Browser(), rp, USERS.admin, {
      scope: 'openid profile email roles',
      claims: JSON.stringify({ id_token: { email: null, groups: { essential: true }, name: null } }),
    });
    const claims = (await exchangeCode(rp, callback, request)).claims()!;
    expect(claims).to.include({ email: 'wangjianguo@yunqi-tech.cn', name: '王建国' });
    expect(claims.groups).to.be.an('array');
  });

  it('shows the expired page when the interaction has timed out in Redis', async function () {
    const request = await authorize(rp);
    const browser = new Browser();
    const login = await browser.follow(request.url.toString(), [world.server.issuer]);
    expect(login.status).to.equal(200);
    const uid = new URL(login.url).pathname.split('/')[2]!;
    // What Redis does when the interaction's TTL runs out.
    expect(await world.server.services.redis!.del(`oidc:Interaction:${uid}`)).to.equal(1);
    const again = await browser.request(login.url);
    expect(again.status).to.equal(400);
    expect(again.text).to.contain('interaction.expired');
  });

  it('skips consent for a first-party application', async function () {
    const firstParty = await registerRelyingParty(world, { name: 'Portal', firstParty: true });
    const request = await authorize(firstParty);
    const browser = new Browser();
    const picker = await openDingTalkPicker(world, browser, request.url);
    const page = await pickInDingTalk(world, browser, picker, USERS.admin);
    expect(page.status).to.equal(303);
    const tokens = await exchangeCode(firstParty, new URL(page.headers.get('location')!), request);
    expect(tokens.claims()!.sub).to.be.a('string');
  });

  it('answers access_denied to the app when the person denies consent', async function () {
    const other = await registerRelyingParty(world, { name: 'GitLab' });
    const request = await authorize(other);
    const browser = new Browser();
    const picker = await openDingTalkPicker(world, browser, request.url);
    const consent = await pickInDingTalk(world, browser, picker, USERS.boss);
    expect(consent.text).to.contain('GitLab');
    const answer = await answerConsent(world, browser, consent, 'deny');
    const location = new URL(answer.headers.get('location')!);
    expect(location.searchParams.get('error')).to.equal('access_denied');
    expect(location.searchParams.get('state')).to.equal(request.state);
  });

  it('refuses a consent form without its CSRF token', async function () {
    const other = await registerRelyingParty(world, { name: 'Jenkins' });
    const request = await authorize(other);
    const browser = new Browser();
    const picker = await openDingTalkPicker(world, browser, request.url);
    const consent = await pickInDingTalk(world, browser, picker, USERS.boss);
    const form = formOf(consent.text, '/consent');
    const answer = await browser.request(new URL(form.action, world.server.issuer).toString(), {
      form: { decision: 'approve', _csrf: 'forged' },
    });
    expect(answer.status).to.equal(403);
    expect(answer.text).to.contain('csrf.invalid');
  });

  it('tolerates a scope parameter on the token request (GitLab sends one)', async function () {
    const { callback, request } = await loginViaDingTalk(world, new Browser(), rp, USERS.admin);
    const response = await fetch(`${world.server.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${rp.clientId}:${rp.clientSecret}`).toString('base64')}`,
      },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: callback.searchParams.get('code')!,
        redirect_uri: rp.redirectUri,
        code_verifier: request.verifier,
        scope: 'openid profile email',
      }),
    });
    expect(response.status).to.equal(200);
  });

  it('answers login_required to prompt=none without a session, without showing a page', async function () {
    const request = await authorize(rp, { prompt: 'none' });
    const page = await new Browser().request(request.url.toString());
    const location = new URL(page.headers.get('location')!);
    expect(location.origin + location.pathname).to.equal(rp.redirectUri);
    expect(location.searchParams.get('error')).to.equal('login_required');
  });

  describe('refusals, each ending on a page and an OAuth error for the app', function () {
    async function failAt(unionId: string): Promise<{ page: Awaited<ReturnType<Browser['request']>>; browser: Browser; state: string }> {
      const request = await authorize(rp);
      const browser = new Browser();
      const picker = await openDingTalkPicker(world, browser, request.url);
      const page = await pickInDingTalk(world, browser, picker, unionId);
      return { page, browser, state: request.state };
    }

    async function goBack(browser: Browser, page: { text: string }): Promise<URL> {
      const href = /href="(\/interaction\/[^"]+\/abort\?error=[a-z_]+)"/.exec(page.text)![1]!.replaceAll('&amp;', '&');
      const answer = await browser.follow(`${world.server.issuer}${href}`, [world.server.issuer]);
      return new URL(answer.headers.get('location')!);
    }

    it('refuses someone outside the organisation', async function () {
      const { page, browser, state } = await failAt(USERS.outsider);
      expect(page.status).to.equal(403);
      expect(page.text).to.contain('不属于本组织');
      const back = await goBack(browser, page);
      expect(back.searchParams.get('error')).to.equal('access_denied');
      expect(back.searchParams.get('state')).to.equal(state);
    });

    it('refuses someone who left the organisation', async function () {
      const { page } = await failAt(USERS.left);
      expect(page.status).to.equal(403);
      expect(page.text).to.contain('dingtalk.not_in_corp');
    });

    it('refuses a disabled account', async function () {
      await loginViaDingTalk(world, new Browser(), rp, USERS.boss);
      await world.server.services.db.models.Account.update({ status: 'disabled' }, { where: { unionId: USERS.boss } });
      try {
        const { page, browser } = await failAt(USERS.boss);
        expect(page.status).to.equal(403);
        expect(page.text).to.contain('account.disabled');
        expect((await goBack(browser, page)).searchParams.get('error')).to.equal('access_denied');
      } finally {
        await world.server.services.db.models.Account.update({ status: 'active' }, { where: { unionId: USERS.boss } });
      }
    });

    for (const path of [
      '/v1.0/oauth2/userAccessToken',
      '/v1.0/contact/users/me',
      '/v1.0/oauth2/accessToken',
      '/topapi/user/getbyunionid',
      '/topapi/v2/user/get',
    ]) {
      it(`shows "try again" when DingTalk fails at ${path}`, async function () {
        world.emulator.state.expireAppTokens(); // so the cached app token is fetched again
        // A returning person's sign-in skips getbyunionid (the userid is remembered): forget it.
        await world.server.services.redis!.del(useridKey('dingtest-app', USERS.admin));
        world.emulator.state.failNext(path, { kind: 'server-error', status: 500 }, 5);
        const { page, browser, state } = await failAt(USERS.admin);
        expect(page.status).to.equal(503);
        expect(page.text).to.contain('dingtalk.unavailable');
        expect(page.text).to.match(/href="\/interaction\/[^"]+"/);
        expect(page.text).to.not.match(/\n\s+at |node_modules/);
        const back = await goBack(browser, page);
        expect(back.searchParams.get('error')).to.equal('temporarily_unavailable');
        expect(back.searchParams.get('state')).to.equal(state);
      });
    }

    it('gives up on a slow DingTalk within the timeout', async function () {
      world.emulator.state.failNext('/v1.0/contact/users/me', { kind: 'delay', ms: 5000 }, 3);
      const started = Date.now();
      const { page } = await failAt(USERS.admin);
      expect(page.text).to.contain('dingtalk.unavailable');
      expect(Date.now() - started).to.be.below(4500);
    });

    it('ends on a page and access_denied when the person says no at DingTalk', async function () {
      const { page, browser } = await failAt('deny');
      expect(page.status).to.equal(400);
      expect(page.text).to.contain('dingtalk.denied');
      expect((await goBack(browser, page)).searchParams.get('error')).to.equal('access_denied');
    });
  });

  describe('the DingTalk state', function () {
    it('works once: a replayed callback is refused', async function () {
      const request = await authorize(rp);
      const browser = new Browser();
      const picker = await openDingTalkPicker(world, browser, request.url);
      const form = formOf(picker.text);
      const toCallback = await browser.request(new URL(form.action, picker.url).toString(), {
        form: { ...form.fields, unionId: USERS.admin },
      });
      const callbackUrl = toCallback.headers.get('location')!;
      expect((await browser.request(callbackUrl)).status).to.equal(303);
      const replay = await browser.request(callbackUrl);
      expect(replay.status).to.equal(400);
      expect(replay.text).to.contain('login.state_invalid');
    });

    it('works only in the browser that started the login', async function () {
      const request = await authorize(rp);
      const browser = new Browser();
      const picker = await openDingTalkPicker(world, browser, request.url);
      const form = formOf(picker.text);
      const toCallback = await browser.request(new URL(form.action, picker.url).toString(), {
        form: { ...form.fields, unionId: USERS.admin },
      });
      const elsewhere = await new Browser().request(toCallback.headers.get('location')!);
      expect(elsewhere.status).to.equal(400);
      expect(elsewhere.text).to.contain('login.state_invalid');
    });

    it('refuses a callback with no state or an unknown one', async function () {
      for (const query of ['', '?state=forged&authCode=x']) {
        const page = await new Browser().request(`${world.server.issuer}/dingtalk/callback${query}`);
        expect(page.status).to.equal(400);
        expect(page.text).to.contain('login.state_invalid');
      }
    });
  });

  it('shows a readable page for an interaction that is gone', async function () {
    const page = await new Browser().request(`${world.server.issuer}/interaction/gone-for-good`);
    expect(page.status).to.equal(400);
    expect(page.text).to.contain('interaction.expired');
  });

  it('signs in with a free-login code inside the DingTalk client', async function () {
    const request = await authorize(rp);
    const browser = new Browser({ 'user-agent': 'Mozilla/5.0 (iPhone) AliApp(DingTalk/7.6.0) com.laiwang.DingTalk' });
    const login = await browser.follow(request.url.toString(), [world.server.issuer]);
    expect(login.text).to.contain('dingtalk.open.js');
    expect(login.headers.get('content-security-policy')).to.contain('https://g.alicdn.com');
    const form = formOf(login.text, '/free-login');
    const code = world.emulator.state.issueFreeLoginCode('manager7421');
    const page = await browser.follow(new URL(form.action, world.server.issuer).toString(), [world.server.issuer], {
      form: { ...form.fields, code },
    });
    const landed = page.status === 200 && page.text.includes('/consent"') ? await answerConsent(world, browser, page, 'approve') : page;
    const callback = new URL(landed.headers.get('location')!);
    const tokens = await exchangeCode(rp, callback, request);
    const info = await oidc.fetchUserInfo(rp.config, tokens.access_token, tokens.claims()!.sub);
    expect(info.preferred_username).to.equal('manager7421');
  });

  describe('audit log (after the logins above)', function () {
    it('records logins and refusals with their reason', async function () {
      const rows = await world.server.services.db.models.AuditEvent.findAll({ where: { type: 'login.succeeded' } });
      expect(rows.length).to.be.greaterThan(3);
      const failed = await world.server.services.db.models.AuditEvent.findAll({ where: { type: 'login.failed' } });
      expect(failed.map((r) => r.details.reason)).to.include.members(['dingtalk.not_in_corp', 'account.disabled']);
    });
  });
});
