import { expect } from 'chai';
import { freePort } from '../helpers/bootstrap.js';
import { cli } from '../helpers/cli.js';
import { CORP_ID, type LoginWorld } from '../helpers/login-flow.js';
import { ADMIN, adminApiToken, api, startAdminWorld } from './admin/harness.js';

interface Page {
  items: { id: string; type: string; accountId: string | null; clientId: string | null; createdAt: string }[];
  nextCursor: string | null;
}

/** stderr without the runtime's own warnings (oidc-provider's "Unsupported runtime" on Node 20). */
const errorLines = (stderr: string): string[] =>
  stderr.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('oidc-provider WARNING'));

describe('command line: audit log and DingTalk check', function () {
  this.timeout(60_000);
  let world: LoginWorld;
  let token: string;
  let adminId: string;
  const OTHER = '00000000-0000-4000-8000-000000000042';
  /** Events of 2020, in the order they are written (ids ascending). */
  let fixtures: { id: string; type: string; accountId: string | null; clientId: string | null; createdAt: Date }[];

  before(async function () {
    world = await startAdminWorld();
    // Signs the admin in (login and consent events), and gives the token of the admin API.
    token = await adminApiToken(world, ADMIN);
    adminId = (await world.server.services.roles.findAccount('manager7421')).id;
    const at = (text: string) => new Date(text);
    const rows = await world.server.services.db.models.AuditEvent.bulkCreate(
      [
        {
          type: 'role.assigned',
          actor: adminId,
          accountId: adminId,
          clientId: null,
          createdAt: at('2020-01-01T10:00:00Z'),
          details: { role: 'oncall' },
        },
        {
          type: 'role_rule.created',
          actor: 'cli:ops',
          accountId: null,
          clientId: null,
          createdAt: at('2020-01-02T08:00:00Z'),
          details: { role: 'oncall' },
        },
        {
          type: 'role.unassigned',
          actor: adminId,
          accountId: adminId,
          clientId: null,
          createdAt: at('2020-01-02T10:00:00Z'),
          details: { role: 'oncall' },
        },
        // A cell a spreadsheet would evaluate: the CSV must carry it as text.
        {
          type: 'client.created',
          actor: '=cmd|calc',
          accountId: null,
          clientId: 'wiki',
          createdAt: at('2020-01-03T09:00:00Z'),
          details: { name: '=HYPERLINK("http://x")' },
        },
        {
          type: 'login.succeeded',
          actor: adminId,
          accountId: adminId,
          clientId: 'wiki',
          createdAt: at('2020-01-03T12:00:00Z'),
          ip: '10.0.0.1',
        },
        { type: 'login.succeeded', actor: OTHER, accountId: OTHER, clientId: 'wiki', createdAt: at('2020-01-03T12:00:01Z') },
        {
          type: 'role.assigned',
          actor: 'cli:ops',
          accountId: OTHER,
          clientId: null,
          createdAt: at('2020-01-04T10:00:00Z'),
          details: { role: 'wiki-editors' },
        },
        { type: 'consent.given', actor: adminId, accountId: adminId, clientId: 'grafana', createdAt: at('2020-01-05T10:00:00Z') },
      ].map((row) => ({ ip: null, details: {}, ...row })),
    );
    fixtures = rows.map((row) => ({
      id: String(row.id),
      type: row.type,
      accountId: row.accountId,
      clientId: row.clientId,
      createdAt: row.createdAt,
    }));
  });

  after(async function () {
    await world?.close();
  });

  const idsOf = (page: Page) => page.items.map((item) => item.id);
  const newestFirst = (rows: { id: string }[]) => rows.map((row) => row.id).sort((a, b) => Number(b) - Number(a));

  it('filters by type prefix, account (by DingTalk userid), client and time range', async function () {
    const [byType, byClientAndTime, table] = await Promise.all([
      cli(['audit', '--type', 'role.*', '--account', 'manager7421', '--json']),
      cli(['audit', '--client', 'wiki', '--from', '2020-01-02', '--to', '2020-01-03T12:00:00Z', '--json']),
      cli(['audit', '--type', 'client.', '--from', '2020-01-01', '--to', '2020-12-31']),
    ]);
    expect(byType.code, byType.stderr).to.equal(0);
    // `role.` is a prefix: role_rule.created is not in it, and neither is the other account's event.
    const expected = fixtures.filter((f) => f.type.startsWith('role.') && f.accountId === adminId);
    expect(idsOf(JSON.parse(byType.stdout) as Page)).to.deep.equal(newestFirst(expected));

    // Both ends are inclusive; the event one second after --to is not in it.
    const inRange = JSON.parse(byClientAndTime.stdout) as Page;
    expect(inRange.items.map((item) => [item.type, item.createdAt])).to.deep.equal([
      ['login.succeeded', '2020-01-03T12:00:00.000Z'],
      ['client.created', '2020-01-03T09:00:00.000Z'],
    ]);
    expect(inRange.nextCursor).to.equal(null);

    expect(table.code, table.stderr).to.equal(0);
    const [header, row, ...rest] = table.stdout
      .trimEnd()
      .split('\n')
      .map((line) => line.trimEnd());
    expect(header).to.match(/^TIME\s+TYPE\s+ACTOR\s+ACCOUNT\s+CLIENT\s+DETAILS$/);
    expect(row).to.match(/^2020-01-03T09:00:00Z\s+client\.created\s+=cmd\|calc\s+-\s+wiki\s+\{"name":"=HYPERLINK/);
    expect(rest).to.deep.equal([]);
  });

  it('pages through the whole log with --cursor, every event exactly once', async function () {
    const { AuditEvent } = world.server.services.db.models;
    const all = newestFirst((await AuditEvent.findAll({ attributes: ['id'] })).map((row) => ({ id: String(row.id) })));
    expect(all.length).to.be.at.least(fixtures.length);
    const limit = String(Math.ceil(all.length / 3));
    const [first, table] = await Promise.all([cli(['audit', '--limit', limit, '--json']), cli(['audit', '--limit', limit])]);
    const pages = [JSON.parse(first.stdout) as Page];
    // The table ends with the cursor of the next page, the same one --json gives.
    expect(table.stdout.trimEnd().split('\n').at(-1)).to.equal(`next page: --cursor ${pages[0]!.nextCursor}`);
    while (pages.at(-1)!.nextCursor) {
      const next = await cli(['audit', '--limit', limit, '--cursor', pages.at(-1)!.nextCursor!, '--json']);
      expect(next.code, next.stderr).to.equal(0);
      pages.push(JSON.parse(next.stdout) as Page);
      expect(pages.length).to.be.at.most(3);
    }
    expect(pages.flatMap(idsOf)).to.deep.equal(all);
  });

  it('exports the same CSV as the admin API for the same filter', async function () {
    const fromApi = await api(world, token, 'GET', `/audit.csv?account=${adminId}`);
    expect(fromApi.status).to.equal(200);
    const fromCli = await cli(['audit', '--account', 'manager7421', '--csv']);
    expect(fromCli.code, fromCli.stderr).to.equal(0);
    expect(fromCli.stdout).to.equal(fromApi.text);
    expect(fromCli.stdout.split('\r\n').length).to.be.greaterThan(3);

    const wiki = await cli(['audit', '--client', 'wiki', '--csv']);
    expect(wiki.stdout).to.equal((await api(world, token, 'GET', '/audit.csv?client=wiki')).text);
    // Formula-safe as the API's: the actor cell starting with = is shown as text.
    expect(wiki.stdout).to.contain(`"'=cmd|calc"`);
  });

  it('refuses bad filters with one readable line and exit code 1', async function () {
    const cases: [string[], RegExp][] = [
      [['--from', 'yesterday'], /--from "yesterday" is not a date/],
      [['--limit', '1001'], /--limit is a whole number from 1 to 1000/],
      [['--cursor', 'abc'], /--cursor/],
      [['--account', 'nobody'], /no account "nobody"/],
    ];
    const results = await Promise.all(cases.map(([args]) => cli(['audit', ...args])));
    results.forEach((result, i) => {
      const lines = errorLines(result.stderr);
      expect(result.code, lines.join('\n')).to.equal(1);
      expect(lines, cases[i]![0].join(' ')).to.have.length(1);
      expect(lines[0])
        .to.match(/^error: /)
        .and.match(cases[i]![1]);
      expect(result.stdout).to.equal('');
    });
  });

  describe('dingtalk check', function () {
    /** The CLI's DingTalk settings pointing at the world's emulator, as the test server's are. */
    const dingtalkEnv = (overrides: Record<string, string> = {}): Record<string, string> => ({
      ISSUER: world.server.issuer,
      DINGTALK_CLIENT_ID: 'dingtest-app',
      DINGTALK_CLIENT_SECRET: 'dingtest-secret-0123456789',
      DINGTALK_CORP_ID: CORP_ID,
      DINGTALK_LOGIN_BASE_URL: world.dingtalk.url,
      DINGTALK_API_BASE_URL: world.dingtalk.url,
      DINGTALK_OAPI_BASE_URL: world.dingtalk.url,
      DINGTALK_TIMEOUT_MS: '1500',
      ...overrides,
    });

    it('passes every check against the emulator with --as a person', async function () {
      const result = await cli(['dingtalk', 'check', '--as', 'manager7421'], dingtalkEnv());
      expect(result.code, result.stdout + result.stderr).to.equal(0);
      expect(result.stdout).to.contain(`DingTalk app dingtest-app (organisation ${CORP_ID}) at ${world.dingtalk.url}`);
      expect(result.stdout).to.match(/^✓ app token\s+app$/m);
      expect(result.stdout).to.match(new RegExp(`^✓ getbyunionid\\s+unionId ${ADMIN}$`, 'm'));
      expect(result.stdout).to.match(/^✓ user\/get\s+userid manager7421$/m);
      expect(result.stdout).to.match(/^✓ department\/get\s+dept 100$/m);
      expect(result.stdout).to.match(/^✓ users\/me\s+sign-in of 王建国\s+last 20/m);
      expect(result.stdout).to.contain(`event callback URL: ${world.server.issuer}/dingtalk/events`);
      expect(result.stdout).to.contain('5 passed, 0 failed, 0 not run');
    });

    it('runs only the app-wide checks without --as', async function () {
      const result = await cli(['dingtalk', 'check', '--json'], dingtalkEnv());
      expect(result.code, result.stdout + result.stderr).to.equal(0);
      const report = JSON.parse(result.stdout) as {
        as: unknown;
        failed: number;
        checks: { name: string; ok: boolean | null; error?: string }[];
      };
      expect(report.as).to.equal(null);
      expect(report.failed).to.equal(0);
      expect(report.checks.map((check) => [check.name, check.ok])).to.deep.equal([
        ['users_me', null],
        ['app_token', true],
        ['getbyunionid', null],
        ['user_get', null],
        ['department_get', null],
      ]);
      expect(report.checks.filter((check) => check.ok === null).every((check) => check.error === 'needs --as <account>')).to.equal(true);
    });

    it('exits with code 3 and shows DingTalk’s error when a check fails', async function () {
      const result = await cli(['dingtalk', 'check', '--as', 'manager7421'], dingtalkEnv({ DINGTALK_CLIENT_SECRET: 'wrong-secret' }));
      expect(result.code, result.stdout + result.stderr).to.equal(3);
      expect(result.stdout).to.match(/^✗ app token\s+app\s+dingtalk\.invalid_client: .*\(DingTalk invalidClientIdOrSecret, HTTP 400/m);
      expect(result.stdout).to.match(/^✗ user\/get\s+userid manager7421\s+dingtalk\.invalid_client/m);
      expect(result.stdout).to.contain('1 passed, 4 failed, 0 not run');
      expect(result.stderr).to.not.match(/\n\s+at /);
    });

    it('says which DingTalk it could not reach, without a stack', async function () {
      const closed = `http://127.0.0.1:${await freePort()}`;
      const result = await cli(['dingtalk', 'check'], dingtalkEnv({ DINGTALK_API_BASE_URL: closed, DINGTALK_OAPI_BASE_URL: closed }));
      expect(result.code, result.stdout + result.stderr).to.equal(3);
      expect(result.stdout).to.contain(`at ${closed}`);
      expect(result.stdout).to.match(/^✗ app token\s+app\s+dingtalk\.unavailable: .*ECONNREFUSED/m);
      expect(errorLines(result.stderr)).to.have.length(1);
      expect(result.stderr).to.contain(`error: cannot reach DingTalk at ${closed}`).and.contain('DINGTALK_API_BASE_URL');
    });

    it('explains that the built-in emulator cannot be checked from the command line', async function () {
      const result = await cli(['dingtalk', 'check'], { ISSUER: world.server.issuer });
      expect(result.code).to.equal(1);
      const lines = errorLines(result.stderr);
      expect(lines).to.have.length(1);
      expect(lines[0]).to.contain('DINGTALK_CLIENT_ID is not set').and.contain(`${world.server.issuer}/dingtalk-emulator`);
    });
  });
});
