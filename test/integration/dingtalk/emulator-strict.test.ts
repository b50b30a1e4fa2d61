/**
 * Where a lenient stand-in would let a test pass while production fails, the emulator is as strict
 * as dingtalk-api.md says DingTalk is: the per-API call limit in any sliding second with either oapi
 * throttling shape (§6.1, §2.5), the per-address block (§6.1), an external contact (`contact_type` 1,
 * §2.2), a login callback carrying only one of `authCode` / `code` (§1.2). Time moves on the
 * emulator's clock (`advanceTime`), never by waiting.
 */
import { expect } from 'chai';
import { DINGTALK_ADDRESS_LIMIT, EmulatorState, JSAPI_PATH, defaultSeed } from '../../../src/emulator/index.js';
import { CLIENT_ID, CLIENT_SECRET, CORP_ID, REDIRECT_URI, http, loginViaPage, postJson, startEmulator, type Harness } from './harness.js';

type Json = Record<string, unknown>;

/** A clock that stands still, so that only `advanceTime` moves the emulator's time (no timed assertions). */
const clock = (): number => Date.UTC(2026, 0, 1, 8, 0, 0);

describe('dingtalk emulator strictness', () => {
  let harness: Harness | undefined;

  afterEach(async () => {
    await harness?.server.close();
    harness = undefined;
  });

  /** The emulator of the running test. */
  function url(): string {
    if (harness === undefined) throw new Error('no emulator started');
    return harness.url;
  }

  async function appToken(): Promise<string> {
    const answer = await postJson(`${url()}/v1.0/oauth2/accessToken`, { appKey: CLIENT_ID, appSecret: CLIENT_SECRET });
    return String((answer.json as Json).accessToken);
  }

  function departmentGet(token: string): Promise<Json> {
    return postJson(`${url()}/topapi/v2/department/get?access_token=${token}`, { dept_id: 1 }).then((r) => r.json as Json);
  }

  describe('per-API call limit (§6.1)', () => {
    it('holds in any sliding second when asked, not per calendar second', async () => {
      harness = await startEmulator({ qpsLimit: 3, qpsWindow: 'sliding', clock });
      const state = harness.emulator.state;
      const token = await appToken();
      state.advanceTime(500); // the middle of a second
      for (let i = 0; i < 3; i += 1) expect((await departmentGet(token)).errcode).to.equal(0);
      state.advanceTime(600); // the next calendar second, but within one second of the three
      expect((await departmentGet(token)).errcode).to.equal(90018);
      state.advanceTime(500); // more than a second after the first three
      expect((await departmentGet(token)).errcode).to.equal(0);
    });

    it('by default counts calendar seconds of the emulator’s clock', async () => {
      harness = await startEmulator({ qpsLimit: 3, clock });
      const state = harness.emulator.state;
      const token = await appToken();
      state.advanceTime(500);
      for (let i = 0; i < 3; i += 1) expect((await departmentGet(token)).errcode).to.equal(0);
      expect((await departmentGet(token)).errcode).to.equal(90018);
      state.advanceTime(500); // the next calendar second
      expect((await departmentGet(token)).errcode).to.equal(0);
    });

    it('counts each API on its own', async () => {
      harness = await startEmulator({ qpsLimit: 1, clock });
      const token = await appToken();
      expect((await departmentGet(token)).errcode).to.equal(0);
      expect((await departmentGet(token)).errcode).to.equal(90018);
      const other = await postJson(`${harness.url}/topapi/user/count?access_token=${token}`, { only_active: false });
      expect((other.json as Json).errcode).to.equal(0);
    });

    it('can answer oapi with the momentary-ban 88 and no sub_code instead of 90018 (§2.5)', async () => {
      harness = await startEmulator({ qpsLimit: 1, throttleErrcode: 88, clock });
      const token = await appToken();
      await departmentGet(token);
      const throttled = await departmentGet(token);
      expect(throttled).to.include({ errcode: 88 });
      expect(throttled).not.to.have.property('sub_code');
      expect(throttled.request_id).to.be.a('string');
    });

    it('is on by default at 20 calls per second', async () => {
      harness = await startEmulator({ qpsLimit: undefined, clock });
      const token = await appToken();
      const codes: unknown[] = [];
      for (let i = 0; i < 21; i += 1) codes.push((await departmentGet(token)).errcode);
      expect(codes.slice(0, 20).every((code) => code === 0)).to.equal(true);
      expect(codes[20]).to.equal(90018);
    });
  });

  describe('per-address block (§6.1)', () => {
    it('blocks an address that sent too many requests in the window, for the block time, with the documented JSON', async () => {
      harness = await startEmulator({ addressLimit: { requests: 5, windowMs: 20_000, blockMs: 300_000 }, clock });
      const state = harness.emulator.state;
      const token = await appToken(); // 1
      for (let i = 0; i < 4; i += 1) expect((await departmentGet(token)).errcode).to.equal(0); // 2–5
      const blocked = await postJson(`${harness.url}/topapi/v2/department/get?access_token=${token}`, { dept_id: 1 });
      expect(blocked.status).to.equal(200);
      expect(blocked.json).to.include({ status: 1111, wait: 5, source: 'x5', punish: 'deny' });
      expect((blocked.json as Json).uuid).to.be.a('string');
      const api = await postJson(`${harness.url}/v1.0/oauth2/accessToken`, { appKey: CLIENT_ID, appSecret: CLIENT_SECRET });
      expect(api.json).to.include({ status: 1111 });
      // The login page is login.dingtalk.com, not an API: it still answers.
      expect((await http(`${harness.url}/oauth2/auth?client_id=x`)).status).to.equal(400);
      state.advanceTime(299_000);
      expect(await departmentGet(token)).to.include({ status: 1111, wait: 1 });
      state.advanceTime(1_000);
      expect((await departmentGet(token)).errcode).to.equal(0);
    });

    it('forgets requests older than the window', async () => {
      harness = await startEmulator({ addressLimit: { requests: 3, windowMs: 20_000, blockMs: 300_000 }, clock });
      const token = await appToken();
      await departmentGet(token);
      harness.emulator.state.advanceTime(20_000);
      for (let i = 0; i < 3; i += 1) expect((await departmentGet(token)).errcode).to.equal(0);
    });

    it('is on by default: 10 000 requests within 20 s pass, the next one blocks the address for 5 minutes', () => {
      expect(DINGTALK_ADDRESS_LIMIT).to.deep.equal({ requests: 10_000, windowMs: 20_000, blockMs: 300_000 });
      const state = new EmulatorState({ seed: defaultSeed(), clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, corpId: CORP_ID, clock });
      for (let i = 0; i < 10_000; i += 1) {
        if (i % 500 === 0) state.advanceTime(900); // 20 batches of 500 spread over 18 s
        expect(state.admitAddress('192.0.2.7')).to.equal(undefined);
      }
      expect(state.admitAddress('192.0.2.7')).to.be.a('number');
      expect(state.admitAddress('192.0.2.8')).to.equal(undefined);
      state.advanceTime(299_999);
      expect(state.admitAddress('192.0.2.7')).to.be.a('number');
      state.advanceTime(1);
      expect(state.admitAddress('192.0.2.7')).to.equal(undefined);
    });
  });

  describe('external contact (§2.2)', () => {
    it('getbyunionid answers contact_type 1; the employee reads do not know the person', async () => {
      harness = await startEmulator();
      const external = harness.emulator.state.addUser({
        status: 'external',
        userid: 'ext0001',
        unionid: 'ExTeRnAl0001iEiE',
        name: '外部联系人甲',
        dept_id_list: [1],
      });
      const token = await appToken();
      const link = await postJson(`${harness.url}/topapi/user/getbyunionid?access_token=${token}`, { unionid: external.unionid });
      expect((link.json as Json).result).to.deep.equal({ contact_type: 1, userid: 'ext0001' });
      const detail = await postJson(`${harness.url}/topapi/v2/user/get?access_token=${token}`, { userid: 'ext0001' });
      expect((detail.json as Json).errcode).to.equal(60121);
      const members = await postJson(`${harness.url}/topapi/user/listid?access_token=${token}`, { dept_id: 1 });
      expect(((members.json as Json).result as Json).userid_list).not.to.include('ext0001');
    });
  });

  describe('login callback parameters (§1.2)', () => {
    const authorizeUrl = () =>
      `${url()}/oauth2/auth?client_id=${CLIENT_ID}&redirect_uri=${encodeURIComponent(REDIRECT_URI)}&response_type=code&scope=openid&state=s1&prompt=consent`;
    const unionId = defaultSeed().users[0]!.unionid;

    it('can send only `code`, as some observers see it', async () => {
      harness = await startEmulator({ callbackCodeParams: ['code'] });
      const location = await loginViaPage(authorizeUrl(), { unionId });
      expect(location.searchParams.has('authCode')).to.equal(false);
      expect(location.searchParams.get('code')).to.be.a('string');
      expect(location.searchParams.get('state')).to.equal('s1');
    });

    it('can send only the documented `authCode`', async () => {
      harness = await startEmulator({ callbackCodeParams: ['authCode'] });
      const location = await loginViaPage(authorizeUrl(), { unionId });
      expect(location.searchParams.has('code')).to.equal(false);
      expect(location.searchParams.get('authCode')).to.be.a('string');
    });
  });

  describe('JSAPI stand-in (§4)', () => {
    const IN_CLIENT = 'Mozilla/5.0 (iPhone) AliApp(DingTalk/7.6.0) DingTalk(7.6.0)';

    it('serves dingtalk.open.js uncached at the CDN path, carrying a free-login code that getuserinfo accepts once', async () => {
      harness = await startEmulator();
      harness.emulator.state.setClientUser('0226103541652');
      const script = await http(`${url()}${JSAPI_PATH}`, { headers: { 'user-agent': IN_CLIENT } });
      expect(script.status).to.equal(200);
      expect(script.headers['content-type']).to.match(/^application\/javascript/);
      expect(script.headers['cache-control']).to.equal('no-store');
      expect(script.text).to.contain('requestAuthCode').and.contain('getAuthCode').and.contain(JSON.stringify(CORP_ID));
      const code = /var CODE = "([^"]+)"/.exec(script.text)?.[1];
      expect(code).to.be.a('string');
      const token = await appToken();
      const first = await postJson(`${url()}/topapi/v2/user/getuserinfo?access_token=${token}`, { code });
      expect((first.json as Json).result).to.include({ userid: '0226103541652', name: '李娜' });
      const again = await postJson(`${url()}/topapi/v2/user/getuserinfo?access_token=${token}`, { code });
      expect((again.json as Json).errcode).to.equal(40078);
    });

    it('is not counted against the API limits (it is the CDN, not an API)', async () => {
      harness = await startEmulator({ qpsLimit: 1, clock });
      for (let i = 0; i < 3; i += 1) {
        const script = await http(`${url()}${JSAPI_PATH}`);
        expect(script.status).to.equal(200);
        expect(script.text).to.contain('window.dd = dd;');
      }
    });
  });
});
