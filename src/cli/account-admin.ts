import { parseArgs } from 'node:util';

import type { RevocationResult } from '../accounts/revocation.js';
import type { Config } from '../config/schema.js';
import { cliUser, openServices } from './context.js';

/** The `accounts` actions this file runs; `accounts show` lives in accounts.ts. */
export const ACCOUNT_ADMIN_ACTIONS: ReadonlySet<string> = new Set(['revoke', 'disable', 'enable', 'sync']);

const HELP = `Usage:
  dingtalk-oidc accounts revoke <account> [--reason TEXT]
      end every session and grant of the account (its tokens stop working at once) and send
      back-channel logout to the apps of its sessions; the account stays enabled
  dingtalk-oidc accounts disable <account> [--reason TEXT]
      disable the account (no sign-in, no token use) and revoke as above
  dingtalk-oidc accounts enable <account>
      enable a disabled account again
  dingtalk-oidc accounts sync [--json]
      re-read every active account from DingTalk: copy profile and department changes, and
      disable and revoke the accounts of people who left the organisation. For deployments that
      cannot receive DingTalk events; run it on a schedule (e.g. hourly). Exits 1 if some failed.

<account>  the account id (OIDC sub), a DingTalk userid or a unionId.
Every change is written to the audit log with the actor cli:<user>.`;

/** `accounts revoke|disable|enable|sync`. */
export async function runAccountAdmin(config: Config, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      reason: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [action, ref] = positionals;
  if (values.help || !action) {
    console.log(HELP);
    return values.help ? 0 : 1;
  }
  if (!ACCOUNT_ADMIN_ACTIONS.has(action)) {
    console.error(`unknown action "${action}"\n\n${HELP}`);
    return 1;
  }
  if (action !== 'sync' && !ref) {
    console.error(`accounts ${action} needs an account\n\n${HELP}`);
    return 1;
  }

  const services = await openServices(config);
  try {
    const { deprovisioning } = services;
    const actor = cliUser();
    if (action === 'sync') {
      const summary = await deprovisioning.syncAccounts({ actor });
      if (values.json) {
        console.log(JSON.stringify(summary, null, 2));
      } else {
        console.log(
          `checked ${summary.checked} account(s): ${summary.updated} updated, ${summary.unchanged} unchanged, ` +
            `${summary.disabled} disabled (left the organisation), ${summary.failed} failed`,
        );
        for (const failure of summary.failures) console.error(`  ${failure.accountId}: ${failure.code}`);
      }
      return summary.failed > 0 ? 1 : 0;
    }

    const account = await deprovisioning.findAccount(ref!);
    if (!account) {
      console.error(`no account "${ref}" (give the account id, a DingTalk userid or a unionId)`);
      return 1;
    }
    if (!services.redis && action !== 'enable') {
      console.error(
        'warning: REDIS_URL is not set, so sessions and tokens live in the server process; only the account record was changed here',
      );
    }
    switch (action) {
      case 'revoke':
        report(account.id, await deprovisioning.revoke(account.id, { actor, reason: values.reason ?? 'admin.revoke' }), values.json);
        return 0;
      case 'disable': {
        const wasActive = account.status === 'active';
        const result = await deprovisioning.disable(account, { actor, reason: values.reason ?? 'admin.disabled', source: 'cli' });
        if (!values.json) console.log(wasActive ? `disabled ${account.id} (${account.name})` : `${account.id} was already disabled`);
        report(account.id, result, values.json);
        return 0;
      }
      default: {
        const enabled = await deprovisioning.enable(account, { actor, source: 'cli' });
        if (values.json) console.log(JSON.stringify({ accountId: account.id, enabled }));
        else console.log(enabled ? `enabled ${account.id} (${account.name})` : `${account.id} was not disabled`);
        return 0;
      }
    }
  } finally {
    await services.close();
  }
}

function report(accountId: string, result: RevocationResult, json: boolean | undefined): void {
  if (json) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  const sent = result.backchannel.length - result.failures.length;
  console.log(
    `revoked ${result.sessions} session(s) and ${result.grants} grant(s) of ${accountId}; ` +
      `back-channel logout: ${sent} sent, ${result.failures.length} failed`,
  );
  for (const failure of result.failures) console.error(`  ${failure.clientId}: ${failure.error ?? 'failed'}`);
}
