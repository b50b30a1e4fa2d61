import { userInfo } from 'node:os';
import { type AuditLog, createAuditLog } from '../accounts/audit.js';
import type { Config } from '../config/schema.js';
import { createConsentStore } from '../accounts/consents.js';
import { type AdminService, type AdminServiceDeps, createAdminService } from '../admin/service.js';
import { openDatabase, type Services } from '../main.js';
import { clientsFileOptions, createClientStore, readClientsFile, type ClientStore } from '../oidc/clients.js';
import { createKeyStore, type KeyStore } from '../oidc/keys.js';
import { createSecretBox } from '../oidc/secret-box.js';
import { createLogger } from '../log.js';
import { pendingMigrations } from '../db/migrator.js';
import { type ChangeNotifier, createRedisChangeNotifier } from '../store/notifications.js';
import { createRedis } from '../store/redis.js';

export interface CliContext {
  keyStore: KeyStore;
  clientStore: ClientStore;
  /** The audit log; a command's changes are recorded with the actor `cliUser()`. */
  audit: AuditLog;
  /** Tell running servers about a change (Redis pub/sub); a no-op without REDIS_URL. */
  notify: ChangeNotifier['publish'];
  close(): Promise<void>;
}

/** Open what a management command needs: the database (migrated), keys, clients and the audit log. */
export async function openCli(config: Config): Promise<CliContext> {
  const logger = createLogger({ logLevel: 'warn' });
  const { db, embedded } = await openDatabase(config, logger);
  // Running servers drop cached clients and reload keys when told; otherwise their cache times apply.
  const redis = config.redis.url ? createRedis(config.redis.url, { lazyConnect: true }) : undefined;
  redis?.on('error', () => undefined);
  const notifier = redis ? createRedisChangeNotifier(redis, () => undefined) : undefined;
  const notify: ChangeNotifier['publish'] = async (topic, id) => {
    await notifier?.publish(topic, id);
  };
  const close = async (): Promise<void> => {
    await db.close();
    redis?.disconnect();
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
  return {
    keyStore,
    clientStore: createClientStore(
      db.models,
      createSecretBox(config.secrets.keyEncryption, 'client-secrets'),
      config.clientsFile ? readClientsFile(config.clientsFile, clientsFileOptions(config)) : [],
      (id) => notify('clients', id),
    ),
    audit: createAuditLog(db.models, logger),
    notify,
    close,
  };
}

export function printTable(rows: Record<string, unknown>[]): void {
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

function formatCell(value: unknown): string {
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
 * The admin service (src/admin/service.ts) on the services of one CLI run: the same operations,
 * audit entries, queries and DingTalk check as the console and the admin API. `overrides` swaps a
 * part (the DingTalk client of `dingtalk check`).
 */
export function adminServiceOf(services: Services, overrides: Partial<AdminServiceDeps> = {}): AdminService {
  const { config, db, holder, logger } = services;
  return createAdminService({
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
    dingtalk: services.dingtalk,
    dingtalkEvents: { token: Boolean(config.dingtalk.eventToken), aesKey: Boolean(config.dingtalk.eventAesKey) },
    ...overrides,
  });
}
