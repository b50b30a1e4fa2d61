import type { DirectorySweep, SweepProgress, SweepSummary } from '../accounts/directory-sweep.js';
import type { RevocationResult } from '../accounts/revocation.js';
import { AppError } from '../errors/app-error.js';
import type { Config } from '../config/schema.js';
import { cliUser, openServices } from './context.js';
import { parseCommand, showHelp, unknownCommand } from './args.js';

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
      the directory sweep, now: read the whole organisation from DingTalk (departments and their
      members, within the shared DingTalk call budget), copy profile and department changes
      (roles re-evaluated), disable and revoke the accounts of people who left, and with
      DINGTALK_PROVISION=directory create accounts for members who have not signed in yet.
      Shows a progress bar on a terminal and a summary. Servers run it every
      DINGTALK_SYNC_INTERVAL_MINUTES (production: 60). Exits 1 if something failed or another
      sweep is running.

<account>  the account id (OIDC sub), a DingTalk userid or a unionId.
Every change is written to the audit log with the actor cli:<user>.`;

/** `accounts revoke|disable|enable|sync`. */
export async function runAccountAdmin(config: Config, args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(args, {
    reason: { type: 'string' },
    json: { type: 'boolean' },
  });
  const [action, ref] = positionals;
  if (values.help || !action) return showHelp(HELP, values.help);
  if (!ACCOUNT_ADMIN_ACTIONS.has(action)) {
    return unknownCommand(`unknown action "${action}"`, HELP);
  }
  if (action !== 'sync' && !ref) {
    return unknownCommand(`accounts ${action} needs an account`, HELP);
  }

  const services = await openServices(config);
  try {
    const { deprovisioning } = services;
    const actor = cliUser();
    if (action === 'sync') return await runSweep(services.sweep, actor, values.json === true);

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

/** `accounts sync`: one sweep, a progress bar when stdout is a terminal, a summary always. */
async function runSweep(sweep: DirectorySweep, actor: string, json: boolean): Promise<number> {
  const bar = !json && process.stdout.isTTY ? progressBar() : undefined;
  let summary: SweepSummary;
  try {
    summary = await sweep.sweep({ actor, trigger: 'cli', ...(bar ? { onProgress: bar.update } : {}) });
  } catch (error) {
    bar?.clear();
    if (error instanceof AppError && (error.code === 'sweep.busy' || error.code === 'sweep.no_organisation')) {
      console.error(`error: ${error.message}`);
      return 1;
    }
    throw error;
  } finally {
    bar?.clear();
  }
  if (json) {
    console.log(JSON.stringify(summary, null, 2));
  } else {
    for (const line of sweepSummaryLines(summary)) console.log(line);
    for (const failure of summary.failures) console.error(`  ${failure.ref}: ${failure.code}`);
  }
  return summary.failed > 0 ? 1 : 0;
}

/** The summary of a sweep in a few lines (also what the console shows). */
export function sweepSummaryLines(summary: SweepSummary): string[] {
  const count = summary.organisationCount === null ? '' : ` (DingTalk counts ${summary.organisationCount})`;
  return [
    `read ${summary.departments} department(s) and ${summary.members} people${count} in ${(summary.durationMs / 1000).toFixed(1)} s, ` +
      `${summary.calls} DingTalk call(s)${summary.complete ? '' : ' — INCOMPLETE: a read failed, nobody was disabled for not being listed'}`,
    `accounts: ${summary.checked} checked, ${summary.updated} updated, ${summary.unchanged} unchanged, ${summary.created} created, ` +
      `${summary.reactivated} re-enabled, ${summary.disabled} disabled (left the organisation), ${summary.failed} failed` +
      (summary.leaversUnconfirmed > 0 ? `, ${summary.leaversUnconfirmed} not listed but not confirmed gone` : ''),
  ];
}

/** A one-line progress bar on stdout (a terminal): redrawn in place, cleared at the end. */
function progressBar(): { update: (progress: SweepProgress) => void; clear: () => void } {
  let shown = false;
  let last = 0;
  const width = 30;
  return {
    update(progress) {
      const now = Date.now();
      if (now - last < 100 && progress.done < progress.total) return;
      last = now;
      const ratio = progress.total > 0 ? Math.min(1, progress.done / progress.total) : 0;
      const filled = Math.round(ratio * width);
      const label =
        progress.phase === 'departments'
          ? `departments found ${progress.total}`
          : progress.phase === 'members'
            ? `departments ${progress.done}/${progress.total}, people ${progress.members}`
            : `confirming leavers ${progress.done}/${progress.total}`;
      process.stdout.write(
        `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.round(ratio * 100)).padStart(3)}% ${label}\x1b[K`,
      );
      shown = true;
    },
    clear() {
      if (shown) process.stdout.write('\r\x1b[K');
      shown = false;
    },
  };
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
