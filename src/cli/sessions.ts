import type { Actor } from '../admin/ops/actor.js';
import type { Config } from '../config/schema.js';
import type { BackchannelDelivery } from '../accounts/revocation.js';
import { adminServiceOf, printTable, cliUser, openServices } from './context.js';
import { parseCommand, showHelp, unknownCommand, pageOf } from './args.js';

const HELP = `Usage:
  dingtalk-oidc sessions list [--account A] [--client C] [--page N] [--json]
  dingtalk-oidc sessions revoke <uid>                   end one session and its grants
  dingtalk-oidc sessions revoke-app <account> <client> [--consent]
                                                        end an account's access to one application
                                                        (--consent: forget its consent too)
  dingtalk-oidc consents list [--account A] [--client C] [--page N] [--json]
  dingtalk-oidc consents revoke <account> <client>      the application asks again next time

<account> is the account id (OIDC sub), a DingTalk userid or a unionId. The same operations as the
admin console's "Sessions and consents"; every change is in the audit log with the actor cli:<user>.`;

/** `sessions …` and `consents …`: the admin console's session and consent operations. */
export async function runSessions(config: Config, args: string[], kind: 'sessions' | 'consents'): Promise<number> {
  const { values, positionals } = parseCommand(args, {
    account: { type: 'string' },
    client: { type: 'string' },
    page: { type: 'string' },
    consent: { type: 'boolean' },
    json: { type: 'boolean' },
  });
  const [action, first, second] = positionals;
  if (values.help || !action) return showHelp(HELP, values.help);
  const page = pageOf(values.page);
  const services = await openServices(config);
  try {
    const actor: Actor = { accountId: cliUser(), via: 'cli' };
    // The console's session and consent operations, audited the same way.
    const ops = adminServiceOf(services);
    const filter = { account: values.account, client: values.client, page, pageSize: 50 };
    if (kind === 'sessions' && action === 'list') {
      const result = await ops.listSessions(filter);
      if (values.json) console.log(JSON.stringify(result, null, 2));
      else
        printTable(
          result.items.map((s) => ({
            uid: s.uid,
            account: s.accountName,
            signed_in: s.signedInAt,
            expires: s.expiresAt,
            apps: s.apps.map((a) => a.clientId),
          })),
        );
      return 0;
    }
    if (kind === 'sessions' && action === 'revoke' && first) {
      const result = await ops.revokeSession(first, actor);
      console.log(
        values.json ? JSON.stringify(result) : `ended session ${first} of ${result.accountId} (${result.grants} grant(s) revoked)`,
      );
      if (!values.json) printDeliveries(result.backchannel);
      return 0;
    }
    if (kind === 'sessions' && action === 'revoke-app' && first && second) {
      const result = await ops.revokeAccountApp(first, second, actor, { consent: values.consent === true });
      console.log(JSON.stringify(result));
      return 0;
    }
    if (kind === 'consents' && action === 'list') {
      const result = await ops.listConsents(filter);
      if (values.json) console.log(JSON.stringify(result, null, 2));
      else printTable(result.items.map((c) => ({ account: c.accountName, client: c.clientId, scopes: c.scopes, updated: c.updatedAt })));
      return 0;
    }
    if (kind === 'consents' && action === 'revoke' && first && second) {
      const result = await ops.revokeConsent(first, second, actor);
      console.log(
        values.json
          ? JSON.stringify(result)
          : result.revoked
            ? `revoked the consent of ${result.accountId} to ${second}`
            : 'no such consent',
      );
      return result.revoked ? 0 : 1;
    }
    return unknownCommand(`unknown or incomplete command "${kind} ${positionals.join(' ')}"`, HELP);
  } finally {
    await services.close();
  }
}

/** One line per back-channel logout token sent, and why a failed one failed. */
function printDeliveries(deliveries: readonly BackchannelDelivery[]): void {
  for (const d of deliveries)
    console.log(`  back-channel logout to ${d.clientId}: ${d.ok ? 'delivered' : `failed (${d.error ?? 'unknown error'})`}`);
}
