import { type AuditItem, MAX_CSV_ROWS } from '../admin/ops/audit.js';
import { auditFilterOf, UUID } from '../admin/ops/filters.js';
import type { Config } from '../config/schema.js';
import { adminServiceOf, printTable, openServices } from './context.js';
import { parseCommand, showHelp } from './args.js';

const MAX_LIMIT = 1000;

const HELP = `Usage:
  dingtalk-oidc audit [--account A] [--client ID] [--type T] [--actor A] [--from TIME] [--to TIME]
                      [--limit N] [--cursor C] [--json | --csv]

The audit log, newest first, with the filters of the console's Audit page and GET /admin/api/audit:
  --account A   events about an account: its id (OIDC sub), DingTalk userid or unionId
  --client ID   events of one application
  --type T      an exact type (role.assigned), or a prefix ending in . or * (account., role*)
  --actor A     who acted: an admin's account id, cli:<user>, dingtalk:event, dingtalk:sync…
  --from TIME   at or after TIME; --to TIME: at or before TIME. ISO 8601: 2024-05-01T08:00:00Z,
                or 2024-05-01 (midnight UTC, so "--to 2024-05-01" ends as that day starts)
  --limit N     events per page, 1 to ${MAX_LIMIT} (default 50); a "next page: --cursor C" line
                follows when there are more
  --cursor C    continue after the page that printed C
  --json        the page as JSON: { items, nextCursor }, as the API answers
  --csv         every matching event (at most ${MAX_CSV_ROWS}) as CSV, the same bytes as
                /admin/api/audit.csv; --limit does not apply
Reading the log is not itself audited.`;

/** `audit`: read the audit log from the command line, through the admin service the console uses. */
export async function runAudit(config: Config, args: string[]): Promise<number> {
  const { values } = parseCommand(
    args,
    {
      account: { type: 'string' },
      client: { type: 'string' },
      type: { type: 'string' },
      actor: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      limit: { type: 'string' },
      cursor: { type: 'string' },
      json: { type: 'boolean' },
      csv: { type: 'boolean' },
    },
    { positionals: false },
  );
  if (values.help) return showHelp(HELP, true);
  // Bad input is one line on stderr, before anything is opened.
  const problem = inputProblem(values);
  if (problem) {
    console.error(`error: ${problem}`);
    return 1;
  }
  const limit = values.limit === undefined ? 50 : Number(values.limit);

  const services = await openServices(config);
  try {
    // The account may be named as the CLI names it everywhere; the API takes only the id. An id
    // is used as given, so the events of a deleted account can still be found.
    const account =
      values.account === undefined || UUID.test(values.account) ? values.account : (await services.roles.findAccount(values.account)).id;
    // The API's own parsing of its query, so both read the same filter the same way.
    const filter = auditFilterOf({
      account,
      client: values.client,
      type: values.type,
      actor: values.actor,
      from: values.from,
      to: values.to,
      cursor: values.cursor,
    });
    const service = adminServiceOf(services);
    if (values.csv) {
      process.stdout.write(await service.auditCsv(filter));
      return 0;
    }
    const page = await service.auditPage(filter, limit);
    if (values.json) {
      console.log(JSON.stringify(page, null, 2));
      return 0;
    }
    printTable(page.items.map(row));
    if (page.nextCursor) console.log(`next page: --cursor ${page.nextCursor}`);
    return 0;
  } finally {
    await services.close();
  }
}

/** What is wrong with the options, in one line, or undefined. */
function inputProblem(values: Record<string, string | boolean | undefined>): string | undefined {
  if (values.json && values.csv) return 'choose one of --json and --csv';
  if (values.csv && values.limit !== undefined)
    return `--limit does not apply to --csv (it exports every matching event, at most ${MAX_CSV_ROWS})`;
  if (values.limit !== undefined) {
    const limit = /^\d{1,5}$/.test(String(values.limit)) ? Number(values.limit) : NaN;
    if (!(limit >= 1 && limit <= MAX_LIMIT)) return `--limit is a whole number from 1 to ${MAX_LIMIT}, not "${String(values.limit)}"`;
  }
  for (const name of ['from', 'to'] as const) {
    const value = values[name];
    if (typeof value === 'string' && Number.isNaN(new Date(value.trim()).getTime())) {
      return `--${name} "${value}" is not a date or time (ISO 8601: 2024-05-01 or 2024-05-01T08:00:00Z)`;
    }
  }
  if (typeof values.cursor === 'string' && !/^\d{1,18}$/.test(values.cursor.trim())) {
    return `--cursor is the number after "next page: --cursor", not "${values.cursor}"`;
  }
  for (const name of ['account', 'client', 'type', 'actor'] as const) {
    if (values[name] === '') return `--${name} needs a value`;
  }
  return undefined;
}

/** One table row: the time to the second, and the details cut short (--json has them whole). */
function row(item: AuditItem): Record<string, string | null> {
  const details = JSON.stringify(item.details);
  return {
    time: item.createdAt.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    type: printable(item.type),
    actor: item.actor === null ? null : printable(item.actor),
    account: item.accountId,
    client: item.clientId === null ? null : printable(item.clientId),
    details: details === '{}' ? null : printable(details.length > 80 ? `${details.slice(0, 79)}…` : details),
  };
}

/** Control characters (a terminal's escape sequences included) shown as `?`, never sent to the terminal. */
function printable(text: string): string {
  // oxlint-disable-next-line no-control-regex -- matching control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}
