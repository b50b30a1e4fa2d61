/**
 * docs/integrations/apache-mod-auth-openidc.md, run as written: Debian's Apache and
 * mod_auth_openidc on a loopback port, configured with the guide's own block, in front of a tiny
 * backend; sign-in through our server and the DingTalk emulator; a refused person.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { runClients } from '../../src/cli/clients.js';
import { type RunningApache, requireApache, startApache } from '../helpers/apache.js';
import { freePort, resetState } from '../helpers/bootstrap.js';
import { captureConsole } from '../helpers/cli.js';
import { Browser, type Page } from '../helpers/browser.js';
import { codeBlocks, shellCommands } from '../helpers/docs.js';
import { type LoginWorld, openDingTalkPicker, pickInDingTalk, startLoginWorld, USERS } from '../helpers/login-flow.js';

const GUIDE = 'docs/integrations/apache-mod-auth-openidc.md';
const APP = 'https://wiki.example.com';

/** Run `dingtalk-oidc clients <args>` in-process, on the server's configuration; its output. */
async function clients(world: LoginWorld, args: string[]): Promise<string> {
  const { code, out, err } = await captureConsole(() => runClients(world.server.config, args));
  expect(code, `dingtalk-oidc clients ${args.join(' ')}: ${err}`).to.equal(0);
  return out;
}

describe('Apache mod_auth_openidc in front of any web app (the guide, run as written)', function () {
  let world: LoginWorld;
  let backend: Server;
  let backendUrl: string;
  let apache: RunningApache | undefined;
  let clientId: string;
  let site: (options?: { withoutDefaultUrl?: boolean }) => string;

  before(async function () {
    requireApache(); // fails, never skips, when apache2 or mod_auth_openidc is missing
    await resetState();
    world = await startLoginWorld();
    // The application: it answers with the request headers it was given.
    backend = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ path: req.url, headers: req.headers }));
    });
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
    backendUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}/`;

    const port = await freePort();
    const appUrl = `http://127.0.0.1:${port}`;
    // The guide's registration, for this Apache's address.
    const [add] = shellCommands(GUIDE, 'npx dingtalk-oidc').filter(([group, action]) => group === 'clients' && action === 'add');
    expect(add, 'the guide registers its client').to.not.equal(undefined);
    const created = JSON.parse(await clients(world, [...add!.slice(1).map((word) => word.replaceAll(APP, appUrl)), '--json'])) as {
      client_id: string;
      client_secret: string;
    };
    clientId = created.client_id;

    const [block] = codeBlocks(GUIDE, 'apache');
    expect(block, 'the guide shows an Apache configuration').to.be.a('string');
    const passphrase = randomBytes(24).toString('hex');
    site = ({ withoutDefaultUrl = false } = {}) =>
      block!
        .replaceAll('https://id.example.com', world.server.issuer)
        .replaceAll(APP, appUrl)
        .replaceAll('http://127.0.0.1:8080/', backendUrl)
        .replaceAll('<client_id>', created.client_id)
        .replaceAll('<client_secret>', created.client_secret)
        .replaceAll('<passphrase>', passphrase)
        .split('\n')
        .filter((line) => !(withoutDefaultUrl && line.startsWith('OIDCDefaultURL ')))
        .join('\n');
    apache = await startApache(port, site());
  });

  after(async function () {
    await apache?.stop();
    await new Promise((resolve) => backend?.close(resolve));
    await world?.close();
  });

  /** From the application to our login page and DingTalk's picker; the person picks; back at Apache. */
  async function signIn(browser: Browser, unionId: string, path = '/wiki/start?x=1'): Promise<{ refusal?: Page; app: Page }> {
    const first = await browser.follow(`${apache!.url}${path}`, [apache!.url]);
    expect(first.status, apache!.errorLog()).to.equal(302);
    const auth = new URL(first.headers.get('location')!);
    expect(auth.origin + auth.pathname).to.equal(`${world.server.issuer}/auth`);
    expect(auth.searchParams.get('code_challenge_method')).to.equal('S256');
    const picker = await openDingTalkPicker(world, browser, auth);
    let page = await pickInDingTalk(world, browser, picker, unionId);
    let refusal: Page | undefined;
    if (page.status === 403) {
      refusal = page;
      const back = /href="(\/interaction\/[^"]+\/abort\?error=[a-z_]+)"/.exec(page.text)![1]!;
      page = await browser.follow(`${world.server.issuer}${back}`, [world.server.issuer]);
    }
    const callback = page.headers.get('location')!;
    expect(callback, `${page.status} ${page.text.slice(0, 200)}`).to.match(new RegExp(`^${apache!.url}/redirect_uri\\?`));
    return { refusal, app: await browser.follow(callback, [apache!.url]) };
  }

  it('signs a person in and hands the application who they are in headers, not the ones a browser sends', async function () {
    const browser = new Browser({ oidc_claim_email: 'forged@example.com', 'x-remote-user': 'forged' }, { navigation: true });
    const { app } = await signIn(browser, USERS.admin);
    expect(app.status, apache!.errorLog()).to.equal(200);
    const seen = JSON.parse(app.text) as { path: string; headers: Record<string, string> };
    expect(seen.path).to.equal('/wiki/start?x=1');
    expect(seen.headers['x-remote-user']).to.equal('manager7421');
    expect(seen.headers.oidc_claim_preferred_username).to.equal('manager7421');
    expect(seen.headers.oidc_claim_email).to.equal('wangjianguo@yunqi-tech.cn');

    // The session cookie carries the next request straight through.
    const again = await browser.request(`${apache!.url}/other`);
    expect(again.status).to.equal(200);
    expect((JSON.parse(again.text) as { headers: Record<string, string> }).headers['x-remote-user']).to.equal('manager7421');
  });

  describe('a person the access policy refuses', function () {
    before(async function () {
      // As the guide shows: `clients update <client_id> --access-role wiki-users`.
      const [update] = shellCommands(GUIDE, 'npx dingtalk-oidc').filter(([group, action]) => group === 'clients' && action === 'update');
      expect(update, 'the guide shows the access policy').to.not.equal(undefined);
      await clients(
        world,
        update!.slice(1).map((word) => (word === '<client_id>' ? clientId : word)),
      );
    });

    it('sees our "no access" page, and after "Back to the application", our login page again (OIDCDefaultURL set)', async function () {
      const browser = new Browser({}, { navigation: true });
      const { refusal, app } = await signIn(browser, USERS.boss);
      expect(refusal!.status).to.equal(403);
      expect(refusal!.text).to.contain('access.denied');
      // 2.4.12 takes the access_denied answer (it carries iss) for a login started elsewhere, and
      // with OIDCDefaultURL starts a new one: the person is back on our login page, not on an error
      // page of Apache.
      expect(app.status, app.text).to.equal(302);
      expect(app.text).to.not.contain('target_link_uri');
      const again = await browser.follow(app.headers.get('location')!, [world.server.issuer]);
      expect(again.status).to.equal(200);
      expect(again.text).to.contain('/dingtalk"').and.contain('使用钉钉登录');
    });

    it("without OIDCDefaultURL, mod_auth_openidc 2.4.12 shows its target_link_uri error instead (the guide's warning)", async function () {
      const port = Number(new URL(apache!.url).port);
      await apache!.stop();
      apache = undefined;
      apache = await startApache(port, site({ withoutDefaultUrl: true }));
      const { app } = await signIn(new Browser({}, { navigation: true }), USERS.boss);
      expect(app.text).to.contain('target_link_uri');
    });
  });
});
