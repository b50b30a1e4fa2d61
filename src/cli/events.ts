import type { Actor } from '../admin/ops/actor.js';
import { inboxStatusOf } from '../admin/ops/filters.js';
import type { Config } from '../config/schema.js';
import { adminServiceOf, cliUser, printTable, openServices } from './context.js';
import { parseCommand, showHelp, unknownCommand, pageOf } from './args.js';

const HELP = `Usage:
  dingtalk-oidc dingtalk events list [--status pending|done|failed|ignored] [--page N] [--json]
  dingtalk-oidc dingtalk events show <id> [--json]
  dingtalk-oidc dingtalk events retry <id>

The DingTalk event inbox, as the admin console's "Events" page shows it: every event DingTalk
pushed (HTTP or Stream), newest first, with its status and, for a failed or ignored one, the
reason. "retry" puts a failed (or waiting) event back in line at once: a running server's worker
takes it within seconds. Retries are in the audit log with the actor cli:<user>.`;

/** `dingtalk events …`: the event inbox from the command line. */
export async function runEvents(config: Config, args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(args, {
    status: { type: 'string' },
    page: { type: 'string' },
    json: { type: 'boolean' },
  });
  const [action, id, extra] = positionals;
  if (values.help || !action) return showHelp(HELP, values.help);
  const known =
    (action === 'list' && id === undefined) || ((action === 'show' || action === 'retry') && id !== undefined && extra === undefined);
  if (!known) {
    return unknownCommand(`unknown or incomplete command "dingtalk events ${positionals.join(' ')}"`, HELP);
  }
  const status = inboxStatusOf(values.status);
  const page = pageOf(values.page);
  const services = await openServices(config);
  try {
    const ops = adminServiceOf(services);
    if (action === 'list') {
      const result = await ops.listEvents({ ...(status ? { status } : {}), page, pageSize: 50 });
      if (values.json) {
        console.log(JSON.stringify(result, null, 2));
        return 0;
      }
      printTable(
        result.items.map((e) => ({
          id: e.id,
          received: e.receivedAt,
          type: e.type ?? '(unreadable)',
          via: e.transport,
          status: e.status,
          attempts: e.attempts,
          reason: e.reason ?? '',
        })),
      );
      const pages = Math.max(1, Math.ceil(result.total / result.pageSize));
      const counts = Object.entries(result.counts)
        .map(([name, count]) => `${count} ${name}`)
        .join(', ');
      console.log(`\npage ${result.page} of ${pages} (${result.total} events${status ? ` ${status}` : ''}); inbox: ${counts}`);
      return 0;
    }
    if (action === 'show') {
      const item = await ops.getEvent(id!);
      if (values.json) console.log(JSON.stringify(item, null, 2));
      else
        for (const [key, value] of Object.entries(item))
          console.log(
            `${key.padEnd(15)} ${value instanceof Date ? value.toISOString() : Array.isArray(value) ? value.join(', ') : String(value ?? '')}`,
          );
      return 0;
    }
    const actor: Actor = { accountId: cliUser(), via: 'cli' };
    const item = await ops.retryEvent(id!, actor);
    console.log(
      values.json ? JSON.stringify(item) : `event ${item.id} (${item.type}) is pending again: a running server's worker takes it now`,
    );
    return 0;
  } finally {
    await services.close();
  }
}
