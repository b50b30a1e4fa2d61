import { expect } from 'chai';
import { createDingTalkClient, type DingTalkClientOptions } from '../../../src/dingtalk/client.js';
import { createMemoryCorpTokenCache } from '../../../src/dingtalk/corp-token-cache.js';

const base: DingTalkClientOptions = {
  clientId: 'dingabc',
  clientSecret: 'secret',
  loginBaseUrl: 'https://login.dingtalk.com/',
  apiBaseUrl: 'https://api.dingtalk.com',
  oapiBaseUrl: 'https://oapi.dingtalk.com',
  timeoutMs: 1000,
  tokenCache: createMemoryCorpTokenCache(),
};

describe('dingtalk/client authorizationUrl', () => {
  it('asks for `openid corpid` (space as %20), prompt=consent and pre-selects the configured corp', () => {
    const client = createDingTalkClient({ ...base, corpId: 'ding5f8a2c4e71b3d902' });
    const url = client.authorizationUrl({ redirectUri: 'https://sso.example.com/dingtalk/callback', state: 's t&x' });
    expect(url).to.equal(
      'https://login.dingtalk.com/oauth2/auth?client_id=dingabc' +
        '&redirect_uri=https%3A%2F%2Fsso.example.com%2Fdingtalk%2Fcallback' +
        '&response_type=code&scope=openid%20corpid&state=s%20t%26x&prompt=consent&corpId=ding5f8a2c4e71b3d902',
    );
  });

  it('asks only for `openid` without a corp and adds no corpId', () => {
    const url = new URL(createDingTalkClient(base).authorizationUrl({ redirectUri: 'https://a.example/cb', state: 'abc' }));
    expect(url.origin + url.pathname).to.equal('https://login.dingtalk.com/oauth2/auth');
    expect(Object.fromEntries(url.searchParams)).to.deep.equal({
      client_id: 'dingabc',
      redirect_uri: 'https://a.example/cb',
      response_type: 'code',
      scope: 'openid',
      state: 'abc',
      prompt: 'consent',
    });
  });

  it('lets a call pick another organisation', () => {
    const url = new URL(
      createDingTalkClient({ ...base, corpId: 'dingA' }).authorizationUrl({
        redirectUri: 'https://a.example/cb',
        state: 's',
        corpId: 'dingB',
      }),
    );
    expect(url.searchParams.get('corpId')).to.equal('dingB');
    expect(url.searchParams.has('exclusiveCorpId')).to.equal(false);
  });
});
