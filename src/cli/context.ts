import { userInfo } from 'node:os';
import { type AuditLog, createAuditLog } from '../accounts/audit.js';
import type { Config } from '../config/schema.js';
import { createConsentStore } from '../accounts/consents.js';
import { type AdminOps, type AdminOpsDeps, createAdminOps } from '../admin/ops/index.js';
import { openDatabase, type Services } from '../main.js';
import { clientsFileOptions, createClientStore, readClientsFile, type ClientStore } from '../oidc/clients.js';
import { createKeyStore, type KeyStore } from '../oidc/keys.js';
import { createSecretBox } from '../oidc/secret-box.js';
import { createLogger } from '../log.js';
import { pendingMigrations } from '../db/migrator.js';
import type { ChangeNotifier } from '../store/notifications.js';
import { createStores, type Stores } from '../store/index.js';
import { type AccessChanges, createAccessChanges } from '../accounts/access-changes.js';
import { createAccountCache } from '../oidc/account-cache.js';
import type { Models } from '../db/models/index.js';
import type { Logger } from '../log.js';

export interface CliContext {
  keyStore: KeyStore;
  clientStore: ClientStore;
  /** The audit log; a command's changes are recorded with the actor `cliUser()`. */
  audit: AuditLog;
  /** Tell running servers about a change (Redis pub/sub); a no-op without REDIS_URL. */
  notify: ChangeNotifier['publish'];
  /** Revokes the grants an access change takes away, in the servers' Redis; absent without REDIS_URL. */
  access?: AccessChanges;
  close(): Promise<void>;
}

/** Open what a management command needs: the database (migrated), keys, clients and the audit log. */
export async function openCli(config: Config): Promise<CliContext> {
  const logger = createLogger({ logLevel: 'warn' });
  const { db, embedded } = await openDatabase(config, logger);
  // Running servers drop cached clients and reload keys when told; otherwise their cache times apply.
  const stores = await createStores(config, { logger, command: true });
  const notify: ChangeNotifier['publish'] = (topic, id) => stores.notifier.publish(topic, id);
  const close = async (): Promise<void> => {
    await db.close();
    await stores.close();
    await embedded?.stop();
  };
  const pending = await pendingMigrations(db.sequelize);
  if (pending.length > 0) {
    await close();
    throw new Error(`the database needs migrating (${pending.length} pending): run \`dingtalk-oidc migrate\` first`);
  }
  const keyStore = createKeyStore(db.sequelize, db.models, createSecretBox(config.secrets.keyEncryption, 'signing-keys'), {
    activationDelayMs: config.oidc.keyActivationDelayMs,
  });
  // A fresh installation set up from the command line before its first start needs keys too.
  await keyStore.ensure();
  const clientStore = createClientStore(
    db.models,
    createSecretBox(config.secrets.keyEncryption, 'client-secrets'),
    config.clientsFile ? readClientsFile(config.clientsFile, clientsFileOptions(config)) : [],
    (id) => notify('clients', id),
  );
  const audit = createAuditLog(db.models, logger);
  const access = cliAccessChanges(db.models, stores, clientStore, audit, logger);
  return { keyStore, clientStore, audit, notify, ...(access ? { access } : {}), close };
}

/**
 * Grant revocation for access changes made from the command line: straight in the servers' Redis
 * (the same adapter, no provider needed), with accounts read afresh. Without REDIS_URL the servers'
 * grants live in their own memory, out of reach; their use-time check still applies.
 */
export function cliAccessChanges(
  models: Models,
  stores: Stores,
  clientStore: Pick<ClientStore, 'metadataOf'>,
  audit: AuditLog,
  logger: Logger,
): AccessChanges | undefined {
  if (!stores.shared) return undefined;
  const accounts = createAccountCache(models, { ttlMs: 0 });
  return createAccessChanges({
    models,
    adapter: stores.adapter,
    lookup: (accountId) => accounts.get(accountId),
    clientMetadata: (clientId) => clientStore.metadataOf(clientId),
    audit,
    logger,
  });
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
  const { config, db, holder, logger } = services;
  return createAdminOps({
    sequelize: db.sequelize,
    models: db.models,
    roles: services.roles,
    deprovisioning: services.deprovisioning,
    consents: createConsentStore(db.models),
    clientStore: services.clientStore,
    accountIndex: services.accountIndex,
    provider: () => holder.current(),
    audit: createAuditLog(db.models, logger),
    issuer: config.issuer,
    keyStore: services.keyStore,
    validateClient: (metadata) => holder.validateClient(metadata),
    dingtalk: services.dingtalk.interactive,
    dingtalkEvents: {
      token: Boolean(config.dingtalk.eventToken),
      aesKey: Boolean(config.dingtalk.eventAesKey),
      mode: config.dingtalk.eventMode,
      streamConnections: () => services.streamBoard.list(),
    },
    access: services.access,
    inbox: services.inbox,
    ...overrides,
  });
}
