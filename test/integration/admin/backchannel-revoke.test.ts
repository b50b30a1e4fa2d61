import { expect } from 'chai';
import { createRemoteJWKSet, decodeJwt, type JWTPayload, jwtVerify } from 'jose';
import { freePort } from '../../helpers/bootstrap.js';
import { Browser } from '../../helpers/browser.js';
import {
  answerConsent,
  authorize,
  exchangeCode,
  type LoginWorld,
  loginViaDingTalk,
  registerRelyingParty,
  type RelyingParty,
} from '../../helpers/login-flow.js';
import { newMember, TestRelyingPartyEndpoint } from '../deprovisioning/harness.js';
import { ADMIN, accountIdOf, adminApiToken, api, startAdminWorld } from './harness.js';

const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

describe('back-channel logout when an admin revokes one session or one app (emulator, real Postgres and Redis)', function () {
  let world: LoginWorld;
  let adminToken: string;
  let adminId: string;
  let wikiEndpoint: TestRelyingPartyEndpoint;
  let chatEndpoint: TestRelyingPartyEndpoint;
  let brokenEndpoint: TestRelyingPartyEndpoint;
  let wiki: RelyingParty;
  let chat: RelyingParty;
  /** Its back-channel logout endpoint answers 500 every time. */
  let broken: RelyingParty;
  /** Its back-channel logout endpoint refuses the connection (nothing listens there). */
  let dead: RelyingParty;

  before(async function () {
    world = await startAdminWorld();
    adminToken = await adminApiToken(world, ADMIN);
    adminId = await accountIdOf(world, ADMIN);
    wikiEndpoint = await new TestRelyingPartyEndpoint().start();
    chatEndpoint = await new TestRelyingPartyEndpoint().start();
    brokenEndpoint = await new TestRelyingPartyEndpoint().start();
    wiki = await registerRelyingParty(world, { name: 'Wiki', backchannelLogoutUri: wikiEndpoint.url });
    chat = await registerRelyingParty(world, { name: 'Chat', backchannelLogoutUri: chatEndpoint.url });
    broken = await registerRelyingParty(world, { name: 'Broken', backchannelLogoutUri: brokenEndpoint.url });
    dead = await registerRelyingParty(world, {
      name: 'Dead',
      backchannelLogoutUri: `http://127.0.0.1:${await freePort()}/backchannel-logout`,
    });
  });

  after(async function () {
    await Promise.all([wikiEndpoint?.close(), chatEndpoint?.close(), brokenEndpoint?.close()]);
    await world?.close();
  });

  type Tokens = Awaited<ReturnType<typeof exchangeCode>>;

  /** The first sign-in of a browser: through DingTalk (and consent) to the app's tokens. */
  async function signIn(browser: Browser, rp: RelyingParty, unionId: string): Promise<Tokens> {
    const { callback, request } = await loginViaDingTalk(world, browser, rp, unionId);
    return exchangeCode(rp, callback, request);
  }

  /** Another app in a browser that already has a session: no DingTalk step, consent if asked. */
  async function signInAgain(browser: Browser, rp: RelyingParty): Promise<Tokens> {
    const request = await authorize(rp);
    let page = await browser.follow(request.url.toString(), [world.server.issuer]);
    if (page.status === 200 && page.text.includes('/consent"')) page = await answerConsent(world, browser, page, 'approve');
    const location = page.headers.get('location');
    if (!location?.startsWith(rp.redirectUri)) throw new Error(`expected a redirect to the app, got ${page.status} at ${page.url}`);
    return exchangeCode(rp, new URL(location), request);
  }
  /**
   * One person, two sessions: Wiki and Chat in one browser ("here"), Wiki again in another
   * ("elsewhere").
   */
  async function twoSessions(): Promise<{ accountId: string; wikiHere: Tokens; chatHere: Tokens; wikiElsewhere: Tokens }> {
    const person = newMember(world);
    const here = new Browser();
    const wikiHere = await signIn(here, wiki, person.unionid);
    const chatHere = await signInAgain(here, chat);
    const wikiElsewhere = await signIn(new Browser(), wiki, person.unionid);
    expect(wikiHere.claims()!.sid, 'two sessions, two sids').to.not.equal(wikiElsewhere.claims()!.sid);
    return { accountId: wikiHere.claims()!.sub, wikiHere, chatHere, wikiElsewhere };
  }

  async function isActive(rp: RelyingParty, tokens: Tokens): Promise<boolean> {
    const response = await fetch(`${world.server.issuer}/token/introspection`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${rp.clientId}:${rp.clientSecret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token: tokens.access_token }),
    });
    expect(response.status).to.equal(200);
    return ((await response.json()) as { active: boolean }).active;
  }

  /** The uids of the account's sessions with the apps each signed in to, from the admin API. */
  async function sessionsOf(accountId: string): Promise<{ uid: string; apps: string[] }[]> {
    const res = await api(world, adminToken, 'GET', `/sessions?account=${accountId}`);
    expect(res.status).to.equal(200);
    return res.json.items.map((item: { uid: string; apps: { clientId: string }[] }) => ({
      uid: item.uid,
      apps: item.apps.map((app) => app.clientId).sort(),
    }));
  }

  async function lastAudit(type: string, accountId: string) {
    const rows = await world.server.services.db.models.AuditEvent.findAll({
      where: { type, accountId },
      order: [['id', 'DESC']],
      limit: 1,
    });
    expect(rows, `a ${type} audit entry`).to.have.length(1);
    return rows[0]!;
  }

  /** Verifies a logout token against the issuer's JWKS as an RP would (OIDC Back-Channel Logout 1.0 §2.6). */
  async function verifyLogoutToken(token: string, rp: RelyingParty): Promise<JWTPayload> {
    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(`${world.server.issuer}/jwks`)), {
      issuer: world.server.issuer,
      audience: rp.clientId,
      typ: 'logout+jwt',
      maxTokenAge: '2 minutes',
    });
    expect(payload.events).to.deep.equal({ [BACKCHANNEL_EVENT]: {} });
    expect(payload.jti).to.be.a('string');
    expect(payload).to.not.have.property('nonce');
    return payload;
  }

  const ok = (rp: RelyingParty, tokens: Tokens) => ({ clientId: rp.clientId, sid: tokens.claims()!.sid, ok: true });

  describe('DELETE /admin/api/sessions/:uid', function () {
    let accountId: string;
    /** The session revoked: Wiki and Chat in one browser. */
    let wikiHere: Tokens;
    let chatHere: Tokens;
    /** The same person's other session, at Wiki too. */
    let wikiElsewhere: Tokens;
    let uid: string;
    let response: Awaited<ReturnType<typeof api>>;

    before(async function () {
      ({ accountId, wikiHere, chatHere, wikiElsewhere } = await twoSessions());
      const sessions = await sessionsOf(accountId);
      expect(sessions).to.have.length(2);
      uid = sessions.find((session) => session.apps.length === 2)!.uid;
      wikiEndpoint.reset();
      chatEndpoint.reset();
      response = await api(world, adminToken, 'DELETE', `/sessions/${uid}`);
    });

    it('answers 200 with the logout tokens it sent, none failed', async function () {
      expect(response.status, response.text).to.equal(200);
      expect(response.json).to.deep.include({ uid, accountId, grants: 2, failures: [] });
      expect(response.json.backchannel).to.have.deep.members([ok(wiki, wikiHere), ok(chat, chatHere)]);
    });

    it('sends each app of the session one logout token that verifies against /jwks, with the session’s sid', async function () {
      expect(wikiEndpoint.tokens).to.have.length(1);
      expect(chatEndpoint.tokens).to.have.length(1);
      const atWiki = await verifyLogoutToken(wikiEndpoint.tokens[0]!, wiki);
      expect(atWiki).to.include({ sub: accountId, sid: wikiHere.claims()!.sid });
      const atChat = await verifyLogoutToken(chatEndpoint.tokens[0]!, chat);
      expect(atChat).to.include({ sub: accountId, sid: chatHere.claims()!.sid });
    });

    it('ends the tokens of the revoked session', async function () {
      expect(await isActive(wiki, wikiHere)).to.equal(false);
      expect(await isActive(chat, chatHere)).to.equal(false);
    });

    it('leaves the person’s other session at the same app alone: no logout token, its tokens still active', async function () {
      expect(wikiEndpoint.tokens.map((token) => decodeJwt(token).sid)).to.not.include(wikiElsewhere.claims()!.sid);
      expect(await isActive(wiki, wikiElsewhere)).to.equal(true);
      const remaining = await sessionsOf(accountId);
      expect(remaining.map((session) => session.apps)).to.deep.equal([[wiki.clientId]]);
      expect(remaining[0]!.uid).to.not.equal(uid);
    });

    it('writes the deliveries into the audit entry, with the admin as actor', async function () {
      const entry = await lastAudit('session.revoked', accountId);
      expect(entry.actor).to.equal(adminId);
      expect(entry.details).to.deep.include({ session: uid });
      expect(entry.details.backchannel).to.have.deep.members([ok(wiki, wikiHere), ok(chat, chatHere)]);
    });
  });

  describe('POST /admin/api/accounts/:id/apps/:client/revoke', function () {
    let accountId: string;
    let wikiHere: Tokens;
    let chatHere: Tokens;
    let wikiElsewhere: Tokens;
    let response: Awaited<ReturnType<typeof api>>;

    before(async function () {
      ({ accountId, wikiHere, chatHere, wikiElsewhere } = await twoSessions());
      wikiEndpoint.reset();
      chatEndpoint.reset();
      response = await api(world, adminToken, 'POST', `/accounts/${accountId}/apps/${wiki.clientId}/revoke`, {});
    });

    it('answers 200 with one delivery per session of the account at the app, none failed', async function () {
      expect(response.status, response.text).to.equal(200);
      expect(response.json).to.deep.include({ accountId, clientId: wiki.clientId, grants: 2, sessions: 2, consents: 0, failures: [] });
      expect(response.json.backchannel).to.have.deep.members([ok(wiki, wikiHere), ok(wiki, wikiElsewhere)]);
    });

    it('sends the app a logout token for each of those sessions, with its sid', async function () {
      expect(wikiEndpoint.tokens).to.have.length(2);
      const payloads = await Promise.all(wikiEndpoint.tokens.map((token) => verifyLogoutToken(token, wiki)));
      expect(payloads.map((payload) => payload.sub)).to.deep.equal([accountId, accountId]);
      expect(payloads.map((payload) => payload.sid)).to.have.members([wikiHere.claims()!.sid, wikiElsewhere.claims()!.sid]);
      expect(await isActive(wiki, wikiHere)).to.equal(false);
      expect(await isActive(wiki, wikiElsewhere)).to.equal(false);
    });

    it('sends nothing to the account’s other apps, whose tokens stay active', async function () {
      expect(chatEndpoint.tokens).to.deep.equal([]);
      expect(chatEndpoint.attempts).to.equal(0);
      expect(await isActive(chat, chatHere)).to.equal(true);
      expect((await sessionsOf(accountId)).map((session) => session.apps)).to.have.deep.members([[chat.clientId], []]);
    });

    it('writes the deliveries into the audit entry', async function () {
      const entry = await lastAudit('account.app_revoked', accountId);
      expect(entry.actor).to.equal(adminId);
      expect(entry.details).to.deep.include({ client: wiki.clientId, sessions: 2 });
      expect(entry.details.backchannel).to.have.deep.members([ok(wiki, wikiHere), ok(wiki, wikiElsewhere)]);
    });
  });

  describe('an app that answers 500 or cannot be reached', function () {
    it('does not stop the revocation of a session, and is listed as a failure in the answer and the audit entry', async function () {
      const person = newMember(world);
      const browser = new Browser();
      const atWiki = await signIn(browser, wiki, person.unionid);
      const atBroken = await signInAgain(browser, broken);
      const atDead = await signInAgain(browser, dead);
      const accountId = atWiki.claims()!.sub;
      const [session] = await sessionsOf(accountId);
      wikiEndpoint.reset();
      brokenEndpoint.reset();
      brokenEndpoint.answers.push(...Array<number>(10).fill(500));

      const response = await api(world, adminToken, 'DELETE', `/sessions/${session!.uid}`);
      expect(response.status, response.text).to.equal(200);
      expect(await sessionsOf(accountId)).to.deep.equal([]);
      for (const [rp, tokens] of [
        [wiki, atWiki],
        [broken, atBroken],
        [dead, atDead],
      ] as const) {
        expect(await isActive(rp, tokens), `${rp.clientId}'s access token`).to.equal(false);
      }
      expect(wikiEndpoint.tokens, 'the reachable app is still notified').to.have.length(1);
      expect(brokenEndpoint.attempts, 'the broken app was tried').to.be.greaterThan(0);

      const failed = [
        // The app's status, or a generic reason: never the network error (issue #14, SSRF port scans).
        { clientId: broken.clientId, sid: atBroken.claims()!.sid, ok: false, error: /^the app answered HTTP 500$/ },
        { clientId: dead.clientId, sid: atDead.claims()!.sid, ok: false, error: /^the destination could not be reached$/ },
      ];
      const entry = await lastAudit('session.revoked', accountId);
      for (const deliveries of [response.json.backchannel, entry.details.backchannel] as {
        clientId: string;
        ok: boolean;
        error?: string;
      }[][]) {
        expect(deliveries).to.have.length(3);
        expect(deliveries).to.deep.include(ok(wiki, atWiki));
        for (const expected of failed) {
          const delivery = deliveries.find((d) => d.clientId === expected.clientId);
          expect(delivery).to.deep.include({ clientId: expected.clientId, sid: expected.sid, ok: false });
          expect(delivery!.error).to.match(expected.error);
        }
      }
      expect(response.json.failures.map((d: { clientId: string }) => d.clientId)).to.have.members([broken.clientId, dead.clientId]);
    });

    it('does not stop the revocation of an app, and is listed as a failure in the answer and the audit entry', async function () {
      const person = newMember(world);
      const atDead = await signIn(new Browser(), dead, person.unionid);
      const accountId = atDead.claims()!.sub;

      const response = await api(world, adminToken, 'POST', `/accounts/${accountId}/apps/${dead.clientId}/revoke`, {});
      expect(response.status, response.text).to.equal(200);
      expect(await isActive(dead, atDead)).to.equal(false);
      expect(response.json).to.deep.include({ grants: 1, sessions: 1 });
      const entry = await lastAudit('account.app_revoked', accountId);
      for (const deliveries of [response.json.failures, entry.details.backchannel] as { error?: string }[][]) {
        expect(deliveries).to.have.length(1);
        expect(deliveries[0]).to.deep.include({ clientId: dead.clientId, sid: atDead.claims()!.sid, ok: false });
        expect(deliveries[0]!.error).to.equal('the destination could not be reached');
      }
    });
  });
});
