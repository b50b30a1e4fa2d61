/**
 * Every `npx dingtalk-oidc …` line of the reference pages, run as shown, in order, through the
 * CLI's own commands (in-process, on a running server's configuration, after the people of the
 * emulator's organisation have signed in once), and the curl lines of docs/admin.md through bash.
 * A page that shows an option or a command that no longer exists, or a sequence that fails, fails
 * here. The integration guides have their own tests.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { ACCOUNT_ADMIN_ACTIONS, runAccountAdmin } from '../../src/cli/account-admin.js';
import { runAccounts } from '../../src/cli/accounts.js';
import { runClients } from '../../src/cli/clients.js';
import { runKeys } from '../../src/cli/keys.js';
import { runResourceServers } from '../../src/cli/resource-servers.js';
import { runRoles } from '../../src/cli/roles.js';
import type { Config } from '../../src/config/schema.js';
import { resetState } from '../helpers/bootstrap.js';
import { Browser } from '../helpers/browser.js';
import { captureConsole } from '../helpers/cli.js';
import { codeBlocks, shellCommands } from '../helpers/docs.js';
import { type LoginWorld, loginViaDingTalk, registerRelyingParty, startLoginWorld, USERS } from '../helpers/login-flow.js';

type Run = (config: Config, args: string[]) => Promise<number>;

const execFileAsync = promisify(execFile);

/** Run shell lines as a reader pastes them (bash, with only the variables the page names). */
async function bash(script: string, env: Record<string, string>): Promise<string> {
  const { stdout } = await execFileAsync('bash', ['-euo', 'pipefail', '-c', script], {
    env: { PATH: process.env.PATH, ...env },
    timeout: 20_000,
  });
  return stdout;
}

/** As src/cli/index.ts dispatches (importing it would run the command line). */
const COMMANDS: Record<string, Run> = {
  clients: runClients,
  'resource-servers': runResourceServers,
  keys: runKeys,
  roles: runRoles,
  accounts: (config, args) => (ACCOUNT_ADMIN_ACTIONS.has(args[0] ?? '') ? runAccountAdmin(config, args) : runAccounts(config, args)),
};

/** `clients list | show <id> | remove <id>` is shorthand for one command per alternative. */
function expand(words: string[]): string[][] {
  const commands: string[][] = [[]];
  for (const word of words) {
    if (word === '|') commands.push([words[0]!]);
    else commands.at(-1)!.push(word);
  }
  return commands;
}

describe('the commands the reference pages show', function () {
  let world: LoginWorld;

  async function run(args: string[]): Promise<string> {
    const command = COMMANDS[args[0]!];
    expect(command, `dingtalk-oidc ${args[0]}`).to.be.a('function');
    const { code, out, err } = await captureConsole(() => command!(world.server.config, args.slice(1)));
    expect(code, `dingtalk-oidc ${args.join(' ')}: ${[err, out].join('\n')}`).to.equal(0);
    return out;
  }

  /**
   * Run a page's lines in order. `fill` replaces the placeholders of a line (`<id>`, `<kid>`) and may
   * add `--json`; `seen` gets each line's output.
   */
  async function runPage(
    page: string,
    fill: (args: string[]) => Promise<string[]> = async (args) => args,
    seen: (args: string[], output: string) => void = () => undefined,
  ): Promise<string[][]> {
    const ran: string[][] = [];
    for (const words of shellCommands(page, 'npx dingtalk-oidc')) {
      for (const command of expand(words)) {
        const args = await fill(command);
        expect(args.join(' '), `${page}: a placeholder is left`).to.not.match(/<[a-z]+>/);
        seen(args, await run(args));
        ran.push(args);
      }
    }
    expect(ran, `${page} shows commands`).to.have.lengthOf.above(0);
    return ran;
  }

  before(async function () {
    await resetState();
    world = await startLoginWorld();
    const rp = await registerRelyingParty(world, { name: 'warm-up', firstParty: true });
    for (const person of [USERS.admin, USERS.boss, USERS.noEmail]) await loginViaDingTalk(world, new Browser(), rp, person);
  });

  after(async function () {
    await world?.close();
  });

  it('docs/roles-and-access.md: roles, role rules, a manual assignment, an account, a client with an access policy', async function () {
    await runPage('docs/roles-and-access.md');
    const shown = JSON.parse(await run(['accounts', 'show', 'manager7421', '--json'])) as { roles: { role: string; source: string }[] };
    expect(shown.roles.map((r) => `${r.role} (${r.source})`)).to.include.members([
      'grafana-editor (manual)',
      'oncall (rule)',
      'grafana-admin (rule)',
      'rd (rule)',
    ]);
  });

  it('docs/cli.md: registering, changing, listing and removing clients; resource servers', async function () {
    let lastClient: string | undefined;
    const ran = await runPage(
      'docs/cli.md',
      // `clients add` with --json, to know the id the following lines mean by `<id>`.
      async (args) => [
        ...args.map((word) => (word === '<id>' ? lastClient! : word)),
        ...(args[0] === 'clients' && args[1] === 'add' ? ['--json'] : []),
      ],
      (args, output) => {
        if (args[0] === 'clients' && args[1] === 'add') lastClient = (JSON.parse(output) as { client_id: string }).client_id;
      },
    );
    expect(ran.map((args) => args.slice(0, 2).join(' '))).to.include.members([
      'clients update',
      'clients show',
      'clients remove',
      'resource-servers add',
    ]);
    const removed = ran.find(([group, action]) => group === 'clients' && action === 'remove')![2];
    const remaining = JSON.parse(await run(['clients', 'list', '--json'])) as { clientId: string }[];
    expect(
      remaining.map((c) => c.clientId),
      'clients remove <id> removed it',
    ).to.not.include(removed);
  });

  it('docs/operations.md: listing, rotating and retiring signing keys', async function () {
    let before: { kid: string; alg: string; current: boolean }[] = [];
    let retired: string | undefined;
    await runPage('docs/operations.md', async (args) => {
      if (args[0] === 'keys' && args[1] === 'list') before = JSON.parse(await run(['keys', 'list', '--json'])) as typeof before;
      // The key to retire: the RS256 key that signed before the rotations.
      return args.map((word) => (word === '<kid>' ? (retired = before.find((k) => k.alg === 'RS256' && k.current)!.kid) : word));
    });
    const after = JSON.parse(await run(['keys', 'list', '--json'])) as { kid: string; status: string }[];
    expect(after.find((k) => k.kid === retired)?.status ?? 'retired').to.equal('retired');
  });

  it('docs/admin.md: a service account for scripts, made and used with the curl lines shown', async function () {
    for (const tool of ['curl', 'jq']) {
      try {
        execFileSync('sh', ['-c', `command -v ${tool}`]);
      } catch {
        throw new Error(`docs/admin.md uses ${tool}, which is not installed: apt-get install ${tool} (bash .ci/run installs it)`);
      }
    }
    const issuer = world.server.issuer;
    // The first admin token: a service account registered with the command line.
    const boot = JSON.parse(
      await run([
        'clients',
        'add',
        '--name',
        'bootstrap',
        '--grant',
        'client_credentials',
        '--service-role',
        'admin',
        '--resource',
        `${issuer}/admin=admin:read,admin:write`,
        '--json',
      ]),
    ) as { client_id: string; client_secret: string };
    const token = (await (
      await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${boot.client_id}:${boot.client_secret}`).toString('base64')}` },
        body: new URLSearchParams({ grant_type: 'client_credentials', resource: `${issuer}/admin`, scope: 'admin:read admin:write' }),
      })
    ).json()) as { access_token: string };

    const [block] = codeBlocks('docs/admin.md', 'sh');
    const lines = block!
      .replace(/\\\n\s*/g, ' ')
      .split('\n')
      .filter((line) => line && !line.startsWith('#'));
    expect(lines, 'create, get a token, call').to.have.length(3);
    // First line: the reader keeps the printed client id and secret as CLIENT_ID and CLIENT_SECRET.
    const created = JSON.parse(await bash(lines[0]!, { ISSUER: issuer, ADMIN_TOKEN: token.access_token })) as {
      client: { clientId: string; serviceRoles: string[] };
      clientSecret: string;
    };
    expect(created.client.serviceRoles).to.deep.equal(['admin']);
    const output = await bash(`${lines.slice(1, -1).join('\n')}\n${lines.at(-1)!.replace(/^curl /, 'curl -sS -w "\\n%{http_code}" ')}`, {
      ISSUER: issuer,
      CLIENT_ID: created.client.clientId,
      CLIENT_SECRET: created.clientSecret,
    });
    const status = output.slice(output.lastIndexOf('\n') + 1);
    expect(status, output).to.equal('200');
    const answer = JSON.parse(output.slice(0, output.lastIndexOf('\n'))) as { items: { name: string }[]; total: number };
    expect(answer.items.map((account) => account.name)).to.include('王建国');
  });
});
