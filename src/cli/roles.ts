import type { AuditLog } from '../accounts/audit.js';
import { describeRule, RULE_KINDS } from '../accounts/role-rules.js';
import type { RoleChange, RoleService } from '../accounts/roles.js';
import type { Config } from '../config/schema.js';
import type { Database } from '../db/sequelize.js';
import { openCli, printTable } from './context.js';
import type { AccessChanges } from '../accounts/access-changes.js';
import { parseCommand, showHelp, unknownCommand } from './args.js';

const HELP = `Usage:
  dingtalk-oidc roles list [--json]
  dingtalk-oidc roles add <name> [--description TEXT]
  dingtalk-oidc roles remove <name>
  dingtalk-oidc roles assign <role> <account>
  dingtalk-oidc roles unassign <role> <account>
  dingtalk-oidc roles reevaluate [<account>]
  dingtalk-oidc roles rules list [--json]
  dingtalk-oidc roles rules add <role> --kind KIND [--value V]... [--sub-departments]
                                [--description TEXT] [--dry-run]
  dingtalk-oidc roles rules remove <id>

<name>     1–64 characters of a-z 0-9 . _ : -, starting with a letter or digit; tokens carry it
           (\`roles\`, \`groups\`), so choose it once.
<account>  the account id (OIDC sub), a DingTalk userid or a unionId.
KIND       department     --value DEPT_ID (repeatable or comma-separated); --sub-departments also
                          matches everyone below those departments
           admin, boss    the DingTalk admin / boss flag (--value false inverts it)
           dingtalk_role  --value NAME: a DingTalk role name (role_list), repeatable
           title          --value TITLE: an exact title, repeatable
           users          --value ID: DingTalk userids and/or unionIds (repeatable or comma-separated)

Rule changes re-evaluate every active account at once and print whose roles changed; logins
re-evaluate the rules too. Manual assignments are never touched by rules. ADMIN_DINGTALK_USERIDS
always gives \`admin\`.`;

/** What the roles and accounts commands work on. */
export interface RoleCli {
  db: Database;
  roles: RoleService;
  audit: AuditLog;
  /** Revokes the grants a role change takes away (with REDIS_URL). */
  access?: AccessChanges;
  close(): Promise<void>;
}

/**
 * The database (checked), the role service on it and the audit log, for a management command.
 * Role changes made here reach running servers' account caches at once (change notifications).
 */
export const openRoleCli: (config: Config) => Promise<RoleCli> = openCli;

export async function runRoles(config: Config, args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(args, {
    description: { type: 'string' },
    kind: { type: 'string' },
    value: { type: 'string', multiple: true },
    'sub-departments': { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    json: { type: 'boolean' },
  });
  const [action, ...rest] = positionals;
  if (values.help || !action) return showHelp(HELP, values.help);
  const known = ['list', 'add', 'remove', 'assign', 'unassign', 'reevaluate', 'rules'];
  if (!known.includes(action)) {
    return unknownCommand(`unknown action "${action}"`, HELP);
  }
  const cli = await openRoleCli(config);
  try {
    return await runAction(cli, action, rest, values);
  } finally {
    await cli.close();
  }
}

interface Flags {
  description?: string;
  kind?: string;
  value?: string[];
  'sub-departments'?: boolean;
  'dry-run'?: boolean;
  json?: boolean;
}

async function runAction(cli: RoleCli, action: string, args: string[], flags: Flags): Promise<number> {
  const { roles, audit } = cli;
  switch (action) {
    case 'list': {
      const list = await roles.listRoles();
      if (flags.json) console.log(JSON.stringify(list, null, 2));
      else printTable(list.map((role) => ({ name: role.name, accounts: role.accounts, rules: role.rules, description: role.description })));
      return 0;
    }
    case 'add': {
      const [name] = args;
      if (!name) return usage('roles add needs a role name');
      const role = await roles.addRole(name, flags.description);
      await audit.record({ type: 'role.created', actor: 'cli', details: { role: role.name } });
      if (flags.json) console.log(JSON.stringify(role, null, 2));
      else console.log(`added role ${role.name}`);
      return 0;
    }
    case 'remove': {
      const [name] = args;
      if (!name) return usage('roles remove needs a role name');
      const changes = await roles.removeRole(name);
      await audit.record({ type: 'role.removed', actor: 'cli', details: { role: name, accounts: changes.length } });
      await recordChanges(cli, changes);
      if (flags.json) console.log(JSON.stringify({ removed: name, changes }, null, 2));
      else {
        console.log(`removed role ${name}`);
        await printChanges(cli, changes);
      }
      return 0;
    }
    case 'assign':
    case 'unassign': {
      const [roleName, ref] = args;
      if (!roleName || !ref) return usage(`roles ${action} needs <role> <account>`);
      const account = await roles.findAccount(ref);
      const change = action === 'assign' ? await roles.assign(roleName, account.id) : await roles.unassign(roleName, account.id);
      if (!change) {
        const still = (await roles.assignmentsOf(account.id)).filter((a) => a.role === roleName);
        const why = still.length > 0 ? ` (it comes from ${still.map(sourceText).join(', ')}, which only a rule change removes)` : '';
        console.error(`error: ${label(account)} has no manual assignment of ${roleName}${why}`);
        return 1;
      }
      await audit.record({ type: `role.${action}ed`, actor: 'cli', accountId: account.id, details: { role: roleName } });
      await recordChanges(cli, [change]);
      if (flags.json) console.log(JSON.stringify(change, null, 2));
      else if (action === 'assign')
        console.log(`assigned ${roleName} to ${label(account)}${change.added.length === 0 ? ' (it already had the role)' : ''}`);
      else
        console.log(
          `unassigned ${roleName} from ${label(account)}${change.removed.length === 0 ? ' (it keeps the role from a rule)' : ''}`,
        );
      return 0;
    }
    case 'reevaluate': {
      const [ref] = args;
      const changes = ref ? [await roles.reevaluate((await roles.findAccount(ref)).id)] : await roles.reevaluateAll();
      const changed = changes.filter((c) => c.added.length + c.removed.length > 0);
      await recordChanges(cli, changed);
      if (flags.json) console.log(JSON.stringify(changed, null, 2));
      else await printChanges(cli, changed);
      return 0;
    }
    case 'rules':
      return runRules(cli, args, flags);
    default:
      return usage(`unknown action "${action}"`);
  }
}

async function runRules(cli: RoleCli, args: string[], flags: Flags): Promise<number> {
  const { roles, audit } = cli;
  const [action, target] = args;
  switch (action) {
    case 'list': {
      const rules = await roles.listRules();
      if (flags.json) console.log(JSON.stringify(rules, null, 2));
      else printTable(rules.map((rule) => ({ id: rule.id, role: rule.role, rule: describeRule(rule), description: rule.description })));
      return 0;
    }
    case 'add': {
      if (!target) return usage('roles rules add needs a role name');
      if (!flags.kind) return usage(`roles rules add needs --kind (${RULE_KINDS.join(', ')})`);
      const splits = flags.kind === 'department' || flags.kind === 'users';
      const value = (flags.value ?? []).flatMap((v) =>
        splits
          ? v
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean)
          : [v],
      );
      const input = {
        role: target,
        kind: flags.kind,
        value: value.length === 0 ? undefined : value,
        includeSubDepartments: flags['sub-departments'] === true,
        description: flags.description ?? null,
      };
      if (flags['dry-run']) {
        const matched = await roles.preview(input);
        if (flags.json) console.log(JSON.stringify(matched, null, 2));
        else {
          console.log(`the rule would match ${matched.length} active account${matched.length === 1 ? '' : 's'}:`);
          printTable(matched.map((a) => ({ id: a.id, name: a.name, userid: a.userId, unionid: a.unionId })));
        }
        return 0;
      }
      const { rule, changes } = await roles.addRule(input);
      await audit.record({
        type: 'role_rule.created',
        actor: 'cli',
        details: { rule: rule.id, role: rule.role, kind: rule.kind, value: rule.value, includeSubDepartments: rule.includeSubDepartments },
      });
      await recordChanges(cli, changes);
      if (flags.json) console.log(JSON.stringify({ rule, changes }, null, 2));
      else {
        console.log(`added rule #${rule.id}: ${rule.role} ← ${describeRule(rule)}`);
        await printChanges(cli, changes);
      }
      return 0;
    }
    case 'remove': {
      const id = Number(target);
      if (!target || !Number.isSafeInteger(id) || id <= 0) return usage('roles rules remove needs a rule id (see `roles rules list`)');
      const { rule, changes } = await roles.removeRule(id);
      await audit.record({
        type: 'role_rule.removed',
        actor: 'cli',
        details: { rule: rule.id, role: rule.role, kind: rule.kind, value: rule.value },
      });
      await recordChanges(cli, changes);
      if (flags.json) console.log(JSON.stringify({ rule, changes }, null, 2));
      else {
        console.log(`removed rule #${rule.id}: ${rule.role} ← ${describeRule(rule)}`);
        await printChanges(cli, changes);
      }
      return 0;
    }
    default:
      return usage(action ? `unknown action "rules ${action}"` : 'roles rules needs list, add or remove');
  }
}

function usage(message: string): number {
  return unknownCommand(message, HELP);
}

/** One audit event per account whose roles changed; then the grants they may no longer use are revoked. */
export async function recordChanges(cli: Pick<RoleCli, 'audit' | 'access'>, changes: readonly RoleChange[]): Promise<void> {
  const { audit } = cli;
  for (const change of changes) {
    if (change.added.length + change.removed.length === 0) continue;
    await audit.record({
      type: 'account.roles_changed',
      actor: 'cli',
      accountId: change.accountId,
      details: { added: change.added, removed: change.removed },
    });
  }
  // The grants the lost roles took away, at once (running servers also refuse them at use).
  await cli.access?.rolesChanged(changes, { actor: 'cli' });
}

/** `N accounts changed:` and one line per account, `+role -role`. */
async function printChanges(cli: RoleCli, changes: readonly RoleChange[]): Promise<void> {
  if (changes.length === 0) {
    console.log('no account changed');
    return;
  }
  const accounts = await cli.db.models.Account.findAll({ where: { id: changes.map((c) => c.accountId) } });
  const byId = new Map(accounts.map((account) => [account.id, account]));
  console.log(`${changes.length} account${changes.length === 1 ? '' : 's'} changed:`);
  printTable(
    changes.map((change) => {
      const account = byId.get(change.accountId);
      return {
        account: account ? label(account) : change.accountId,
        roles: [...change.added.map((r) => `+${r}`), ...change.removed.map((r) => `-${r}`)].join(' '),
      };
    }),
  );
}

function label(account: { id: string; name: string; userId: string | null }): string {
  return `${account.name} (${account.userId ?? account.id})`;
}

export function sourceText(assignment: { source: string; rule: { id: number } | null }): string {
  if (assignment.source === 'manual') return 'manual';
  if (assignment.source === 'config') return 'ADMIN_DINGTALK_USERIDS';
  return assignment.rule ? `rule #${assignment.rule.id}` : 'a rule';
}
