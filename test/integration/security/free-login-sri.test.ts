import { expect } from 'chai';
import { resetState } from '../../helpers/bootstrap.js';
import { Browser } from '../../helpers/browser.js';
import { authorize, type LoginWorld, registerRelyingParty, startLoginWorld } from '../../helpers/login-flow.js';

const JSAPI = 'https://g.alicdn.com/dingding/dingtalk-jsapi/3.0.25/dingtalk.open.js';
// A well-formed digest for the test; the real one is computed from the file (docs/production.md).
const INTEGRITY = 'sha384-oqVuAfXRKap7fdgcCY5uykM6+R9GqQ8K/uxy9rx7HNQlGYl1kPzQho1wx4JwY8wC';

describe('security: the free-login script is pinned by URL and Subresource Integrity (real PostgreSQL and Redis)', function () {
  let world: LoginWorld;

  before(async function () {
    await resetState();
    world = await startLoginWorld({ login: { jsapiIntegrity: INTEGRITY } });
  });

  after(async function () {
    await world?.close();
  });

  it('loads DingTalk’s JSAPI with its integrity hash, and the CSP names its exact URL, not the CDN', async function () {
    const rp = await registerRelyingParty(world, { firstParty: true });
    const browser = new Browser({ 'user-agent': 'Mozilla/5.0 (iPhone) AliApp(DingTalk/7.6.0) DingTalk(7.6.0)' });
    let page = await browser.request((await authorize(rp)).url.toString());
    while (page.status >= 300 && page.status < 400)
      page = await browser.request(new URL(page.headers.get('location')!, page.url).toString());
    expect(page.status).to.equal(200);
    const tag = [...page.text.matchAll(/<script\b[^>]*>/g)].map(([t]) => t).find((t) => t.includes('alicdn'));
    expect(tag).to.contain(`src="${JSAPI}"`).and.contain(`integrity="${INTEGRITY}"`).and.contain('crossorigin="anonymous"');
    const scriptSrc = /script-src ([^;]*)/.exec(page.headers.get('content-security-policy')!)![1]!.split(' ');
    expect(scriptSrc).to.include(JSAPI);
    expect(scriptSrc).to.not.include('https://g.alicdn.com');
  });
});
