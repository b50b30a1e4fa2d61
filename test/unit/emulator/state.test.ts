import { expect } from 'chai';
import { defaultSeed } from '../../../src/emulator/seed.js';
import { EmulatorState } from '../../../src/emulator/state.js';

const LINA = { userid: '0226103541652', unionid: 'a1Xk9PqR2sVb7nLmC3dEfgiEiE' };

function makeState(overrides: Partial<ConstructorParameters<typeof EmulatorState>[0]> = {}): EmulatorState {
  return new EmulatorState({ seed: defaultSeed(), clientId: 'dingapp', clientSecret: 's', corpId: 'dingcorp', ...overrides });
}

describe('emulator/state', () => {
  it('consumes an authCode once and refuses it afterwards', () => {
    const state = makeState();
    const code = state.issueAuthCode({ unionid: LINA.unionid, scope: 'openid corpid' });
    const first = state.consumeAuthCode(code);
    expect(first.ok && first.value.scope).to.deep.equal(['openid', 'corpid']);
    expect(state.consumeAuthCode(code)).to.deep.equal({ ok: false, reason: 'used' });
    expect(state.consumeAuthCode('nope')).to.deep.equal({ ok: false, reason: 'unknown' });
  });

  it('expires an authCode after its lifetime', () => {
    const state = makeState({ authCodeTtlMs: 1000 });
    const code = state.issueAuthCode({ unionid: LINA.unionid });
    state.advanceTime(1000);
    expect(state.consumeAuthCode(code)).to.deep.equal({ ok: false, reason: 'expired' });
  });

  it('returns the same app token while it is valid and a new one after expiry', () => {
    const state = makeState();
    const first = state.issueAppToken().token;
    expect(state.issueAppToken().token).to.equal(first);
    state.expireAppTokens();
    expect(state.checkToken(first).status).to.equal('expired');
    expect(state.issueAppToken().token).not.to.equal(first);
  });

  it('markLeft removes a person from the directory but keeps their DingTalk account', () => {
    const state = makeState();
    state.markLeft(LINA.userid);
    expect(state.findMember(LINA.userid)).to.equal(undefined);
    expect(state.findMemberByUnionId(LINA.unionid)).to.equal(undefined);
    expect(state.findByUnionId(LINA.unionid)?.status).to.equal('left');
    state.markMember(LINA.userid);
    expect(state.findMember(LINA.userid)?.name).to.equal('李娜');
  });

  it('setProfile changes a person found by userid or unionId', () => {
    const state = makeState();
    state.setProfile(LINA.userid, { title: '架构师' });
    state.setProfile(LINA.unionid, { org_email: 'na.li@yunqi-tech.cn' });
    expect(state.findMember(LINA.userid)).to.include({ title: '架构师', org_email: 'na.li@yunqi-tech.cn' });
  });

  it('derives a per-app openId that differs between apps', () => {
    const a = makeState({ clientId: 'dingappA' }).findByUnionId(LINA.unionid)?.openid;
    const b = makeState({ clientId: 'dingappB' }).findByUnionId(LINA.unionid)?.openid;
    expect(a).to.be.a('string');
    expect(a).not.to.equal(b);
  });

  it('queues faults per path in order', () => {
    const state = makeState();
    state.failNext('/topapi/v2/user/get', 'busy', 2);
    state.failNext('/topapi/v2/user/get', 'timeout');
    expect([1, 2, 3, 4].map(() => state.takeFault('/topapi/v2/user/get'))).to.deep.equal(['busy', 'busy', 'timeout', undefined]);
  });

  it('admits calls up to the QPS limit within one second', () => {
    const state = makeState({ qpsLimit: 2 });
    state.advanceTime(1000 - (state.now() % 1000)); // start of a second
    expect([1, 2, 3].map(() => state.admitCall('POST /x'))).to.deep.equal([true, true, false]);
    expect(state.admitCall('POST /y')).to.equal(true);
    state.advanceTime(1000);
    expect(state.admitCall('POST /x')).to.equal(true);
  });

  it('counts served calls by path and method', () => {
    const state = makeState();
    state.record('POST', '/a');
    state.record('GET', '/a');
    expect(state.countCalls('/a')).to.equal(2);
    expect(state.countCalls('/a', 'POST')).to.equal(1);
  });
});
