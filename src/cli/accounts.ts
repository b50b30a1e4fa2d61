import { describeRule } from '../accounts/role-rules.js';
import type { Config } from '../config/schema.js';
import { printTable } from './context.js';
import { openRoleCli, sourceText } from './roles.js';
import { parseCommand, showHelp, unknownCommand } from './args.js';

const HELP = `Usage:
  dingtalk-oidc accounts show <account> [--json]

<account>  the account id (OIDC sub), a DingTalk userid or a unionId.
Shows the profile as last refreshed from DingTalk, the departments, the DingTalk roles, and every
role with where it comes from: manual, a rule (which one) or ADMIN_DINGTALK_USERIDS.`;

export async function runAccounts(config: Config, args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(args, {
    json: { type: 'boolean' },
  });
  const [action, ref] = positionals;
  if (values.help || !action) return showHelp(HELP, values.help);
  if (action !== 'show') {
    return unknownCommand(`unknown action "${action}"`, HELP);
  }
  if (!ref) {
    return unknownCommand(`accounts show needs an account`, HELP);
  }
  const cli = await openRoleCli(config);
  try {
    const account = await cli.roles.findAccount(ref);
    const assignments = await cli.roles.assignmentsOf(account.id);
    if (values.json) {
      console.log(JSON.stringify({ account: account.toJSON(), roles: assignments }, null, 2));
      return 0;
    }
    const yes = (flag: boolean) => (flag ? 'yes' : 'no');
    const lines: [string, string | null | undefined][] = [
      ['id', account.id],
      ['status', account.status + (account.statusReason ? ` (${account.statusReason})` : '')],
      ['name', account.nickname && account.nickname !== account.name ? `${account.name} (${account.nickname})` : account.name],
      ['userid', account.userId],
      ['unionid', account.unionId],
      ['corp', account.corpId],
      ['email', account.email ? `${account.email}${account.emailVerified ? ' (verified)' : ''}` : null],
      ['mobile', account.mobile],
      ['title', account.title],
      ['job number', account.jobNumber],
      ['dingtalk admin', yes(account.isAdmin)],
      ['boss', yes(account.isBoss)],
      ['dingtalk roles', account.dingtalkRoles.length > 0 ? account.dingtalkRoles.join(', ') : null],
      ['last login', account.lastLoginAt?.toISOString()],
      ['created', account.createdAt.toISOString()],
    ];
    for (const [name, value] of lines) console.log(`${name.padEnd(15)} ${value ?? '-'}`);
    console.log('\nDepartments');
    printTable(
      account.departments.map((d) => ({
        id: d.id,
        name: d.path ?? d.name,
        ancestors: d.ancestors === undefined ? '(unknown until next login)' : d.ancestors.length > 0 ? d.ancestors.join(' > ') : '(root)',
      })),
    );
    console.log('\nRoles');
    printTable(
      assignments.map((a) => ({
        role: a.role,
        source: sourceText(a),
        rule: a.rule ? describeRule(a.rule) : null,
        since: a.since,
      })),
    );
    return 0;
  } finally {
    await cli.close();
  }
}
