import { userInfo } from 'node:os';
import type { AuditLog } from '../accounts/audit.js';
import type { AccessChanges } from '../accounts/access-changes.js';
import { createConsentStore } from '../accounts/consents.js';
import { type AdminOps, type AdminOpsDeps, createAdminOps } from '../admin/ops/index.js';
import { composeCore, composeServices, dingtalkEventSettings, type Services } from '../app/compose.js';
import type { Config } from '../config/schema.js';
import { createLogger } from '../log.js';
import type { ClientStore } from '../oidc/clients.js';
import type { KeyStore } from '../oidc/keys.js';
import type { ChangeNotifier } from '../store/notifications.js';

export interface CliContext {
  keyStore: KeyStore;
  clientStore: ClientStore;
  /** The audit log; a command's changes are recorded with the actor `cliUser()`. */
  audit: AuditLog;
  /** Tell running servers about a change (Redis pub/sub); a no-op without REDIS_URL. */
  notify: ChangeNotifier['publish'];
  /**
   * Revokes the grants an access change takes away, in the servers' Redis (the same adapter, no
   * provider needed; accounts read afresh); absent without REDIS_URL, where the servers' grants
   * live in their own memory, out of reach (their use-time check still applies).
   */
  access?: AccessChanges;
  close(): Promise<void>;
}

/**
 * What the key, client and role commands need, from the composition root: the database (checked,
 * never migrated), keys, clients, roles and the audit log. Account changes made here reach the
 * running servers' caches at once (change notifications).
 */
export async function openCli(config: Config): Promise<CliContext & Pick<Services, 'db' | 'roles'>> {
  const core = await composeCore(config, createLogger({ logLevel: 'warn' }), { command: true });
  return {
    db: core.db,
    keyStore: core.keyStore,
    clientStore: core.clientStore,
    roles: core.roles,
    audit: core.audit,
    notify: (topic, id) => core.stores.notifier.publish(topic, id),
    ...(core.stores.shared ? { access: core.access } : {}),
    close: () => core.close(),
  };
}

/**
 * Everything the admin operations need (DingTalk, deprovisioning, the inbox, the provider), from
 * the composition root, without any server part. The logger says warnings only (none with
 * LOG_LEVEL=silent).
 */
export function openServices(config: Config): Promise<Services> {
  const logger = createLogger({ logLevel: config.logLevel === 'silent' ? 'silent' : 'warn' });
  return composeServices(config, logger, { command: true });
}

/** What a table cell can show; an object would print as [object Object]. */
export type TableCell = string | number | boolean | bigint | Date | readonly (string | number)[] | null | undefined;

export function printTable(rows: Record<string, TableCell>[]): void {
  if (rows.length === 0) {
    console.log('(none)');
    return;
  }
  const columns = Object.keys(rows[0]!);
  const text = rows.map((row) => columns.map((c) => formatCell(row[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...text.map((r) => r[i]!.length)));
  console.log(columns.map((c, i) => c.toUpperCase().padEnd(widths[i]!)).join('  '));
  for (const r of text) console.log(r.map((cell, i) => cell.padEnd(widths[i]!)).join('  '));
}

function formatCell(value: TableCell): string {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.join(',');
  if (value === null || value === undefined) return '-';
  return String(value);
}

/** Who ran a command, for the audit log: `cli:<OS user>`. */
export function cliUser(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli';
  }
}

/**
 * The admin operations (src/admin/ops/) on the services of one CLI run: the same operations,
 * audit entries, queries and DingTalk check as the console and the admin API. `overrides` swaps a
 * part (the DingTalk directory of `dingtalk check`).
 */
export function adminServiceOf(services: Services, overrides: Partial<AdminOpsDeps> = {}): AdminOps {
  const { config, db, holder } = services;
  return createAdminOps({
    sequelize: db.sequelize,
    models: db.models,
    roles: services.roles,
    deprovisioning: services.deprovisioning,
    consents: createConsentStore(db.models),
    clientStore: services.clientStore,
    accountIndex: services.accountIndex,
    provider: () => holder.current(),
    audit: services.audit,
    issuer: config.issuer,
    keyStore: services.keyStore,
    validateClient: (metadata) => holder.validateClient(metadata),
    dingtalk: services.dingtalk.interactive,
    dingtalkEvents: dingtalkEventSettings(config, services.streamBoard),
    access: services.access,
    inbox: services.inbox,
    ...overrides,
  });
}
