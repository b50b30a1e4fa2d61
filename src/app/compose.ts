/**
 * The composition root: Config → Postgres, the Redis or memory stores (store/index.ts), keys,
 * clients, accounts, DingTalk (app/dingtalk.ts), the provider → for a server, the Koa app. It builds
 * each part once and connects them, and does nothing else: what happens at a refresh, on a change
 * or on an event lives in the folder named for it. The server (app/server.ts) and the CLI
 * (cli/context.ts) both build from here; a command gets what it needs and no server part.
 */
import type Koa from 'koa';
import mount from 'koa-mount';
import { createAccessCheck } from '../accounts/access.js';
import { type AccessChanges, createAccessChanges, createAfterDirectorySync } from '../accounts/access-changes.js';
import { type AuditLog, createAuditLog } from '../accounts/audit.js';
import { createConsentStore } from '../accounts/consents.js';
import { createDeprovisioning, type Deprovisioning } from '../accounts/deprovisioning.js';
import { createDirectorySweep, type DirectorySweep } from '../accounts/directory-sweep.js';
import { createEventInbox, type EventInbox } from '../accounts/inbox/index.js';
import { createEventStream, type EventStream } from '../accounts/event-stream.js';
import { createProvisioning } from '../accounts/provisioning.js';
import { createRoleService, type RoleService } from '../accounts/roles.js';
import { startSyncSchedule } from '../accounts/sync-schedule.js';
import { ensureAdminClient } from '../admin/ops/admin-client.js';
import { createAdminRoutes } from '../admin/routes.js';
import type { Config } from '../config/schema.js';
import { openDatabase, prepareSchema } from '../db/open.js';
import type { Database } from '../db/sequelize.js';
import type { DingTalk, StreamStatus } from '../dingtalk/index.js';
import type { Emulator } from '../emulator/index.js';
import { createApp } from '../http/app.js';
import { createDingTalkEventsRouter } from '../http/dingtalk-events.js';
import { migrationsCurrent, postgresAnswers } from '../http/health.js';
import { providerPages } from '../http/provider-pages.js';
import { type WellKnownDocuments, wellKnownDocuments, wellKnownOptions } from '../http/well-known.js';
import { createInteractionRouter } from '../interactions/routes.js';
import type { Logger } from '../log.js';
import { createMetrics, type Metrics, observeInbox, observeLogins, observeSequelize } from '../metrics.js';
import { type AccountCache, createAccountCache } from '../oidc/account-cache.js';
import { announceAccountChanges, followChanges } from '../oidc/changes.js';
import { createFindAccount, createIsActiveAccount } from '../oidc/claims.js';
import { createClientAdapter, createResourceServerCache } from '../oidc/client-adapter.js';
import { type ClientStore, createClientStore } from '../oidc/clients.js';
import { clientsFileOptions, readClientsFile } from '../oidc/clients-file.js';
import { attachProviderEvents } from '../oidc/events.js';
import { createLoadExistingGrant } from '../oidc/grants.js';
import { createKeyStore, type KeyStore } from '../oidc/keys.js';
import { createProviderHolder, type ProviderHolder } from '../oidc/provider.js';
import { createSecretBox } from '../oidc/secret-box.js';
import type { AccountIndex } from '../store/account-index.js';
import { checkStoreSettings, createStores, type Stores } from '../store/index.js';
import type { RedisClient } from '../store/redis.js';
import type { StatusBoard } from '../store/status-board.js';
import { createPageRenderer } from '../ui/pages.js';
import { EMULATOR_PATH, setUpDingTalk } from './dingtalk.js';

export interface ComposeOptions {
  /**
   * A management command: the database is checked, never migrated; Redis is connected at the first
   * command; no server part (app, schedule, Stream connection) is built; accounts are read afresh.
   */
  command?: boolean;
}

/** What every process uses: the database, the stores, keys, clients, roles and the audit log. */
export interface Core {
  config: Config;
  logger: Logger;
  db: Database;
  stores: Stores;
  /** The Prometheus registry /metrics serves, and the named metrics. */
  metrics: Metrics;
  keyStore: KeyStore;
  clientStore: ClientStore;
  /** The clients of CLIENTS_FILE (read-only, not in the database). */
  fileClients: ReturnType<typeof readClientsFile>;
  audit: AuditLog;
  roles: RoleService;
  /** Accounts with their roles, as tokens see them (per-process copy). */
  accountCache: AccountCache;
  /** Revokes grants that role and access-policy changes take away (accounts/access-changes.ts). */
  access: AccessChanges;
  close(): Promise<void>;
}

export interface Services extends Omit<Core, 'stores' | 'accountCache'> {
  /** The Redis world's client; absent in the memory world (store/index.ts). */
  redis?: RedisClient;
  holder: ProviderHolder;
  /** DingTalk: sign-in and the directory (dingtalk/index.ts). */
  dingtalk: DingTalk;
  /** Revoke, disable, enable, sync from DingTalk, DingTalk events (accounts/deprovisioning.ts). */
  deprovisioning: Deprovisioning;
  /** The directory sweep (accounts/directory-sweep.ts): `accounts sync`, the schedule, the console's figures. */
  sweep: DirectorySweep;
  /**
   * The durable event inbox: `receive` is where HTTP and Stream events go; its worker is started by
   * startServer (every server process runs one), never by the CLI.
   */
  inbox: EventInbox;
  /** Every server process's Stream connection state (Redis, or this process only). */
  streamBoard: StatusBoard<StreamStatus>;
  accountIndex: AccountIndex;
  /** The built-in DingTalk emulator, in development without DingTalk credentials. */
  emulator?: Emulator;
  /** Drop cached clients and resource servers (after a change made in this process). */
  invalidateClients(): void;
}

export interface ServerServices extends Services {
  app: Koa;
  /** Discovery and the JWKS from memory: the listener answers with it before `app` (app/server.ts). */
  wellKnown: WellKnownDocuments;
  /** DINGTALK_EVENT_MODE=stream: this process's DingTalk Stream connection (started by startServer). */
  eventStream?: EventStream;
  /** The development demo client, when `demoClient` is on. */
  demo?: { clientId: string; clientSecret: string };
}

/** Database, stores, keys, clients, roles, audit log: enough for the key, client and role commands. */
export async function composeCore(config: Config, logger: Logger, options: ComposeOptions = {}): Promise<Core> {
  checkStoreSettings(config); // a malformed REDIS_URL is said before anything starts
  const { db, embedded } = await openDatabase(config, logger);
  const metrics = createMetrics();
  observeSequelize(db.sequelize, metrics);
  let stores: Stores | undefined;
  try {
    await prepareSchema(db, config, logger, { checkOnly: options.command });
    stores = await createStores(config, { logger, metrics, command: options.command });
    const { notifier } = stores;
    const keyStore = createKeyStore(db.sequelize, db.models, createSecretBox(config.secrets.keyEncryption, 'signing-keys'), {
      activationDelayMs: config.oidc.keyActivationDelayMs,
    });
    // A fresh installation set up from the command line before its first start needs keys too.
    const created = await keyStore.ensure();
    if (created.length > 0) logger.info({ kids: created }, 'signing keys created');
    const fileClients = config.clientsFile ? readClientsFile(config.clientsFile, clientsFileOptions(config)) : [];
    const clientStore = createClientStore(db.models, createSecretBox(config.secrets.keyEncryption, 'client-secrets'), fileClients, (id) =>
      notifier.publish('clients', id),
    );
    if (!options.command) {
      // Secrets sealed before they were bound to their row (secret-box.ts v1) are re-sealed once.
      const resealed = (await keyStore.resealLegacy()) + (await clientStore.resealLegacy());
      if (resealed > 0) logger.info({ resealed }, 'stored secrets bound to their rows');
    }
    const audit = observeLogins(createAuditLog(db.models, logger), metrics);
    const accountCache = createAccountCache(db.models, { ttlMs: options.command ? 0 : config.oidc.accountCacheMs });
    const access = createAccessChanges({
      models: db.models,
      adapter: stores.adapter,
      lookup: (accountId) => accountCache.get(accountId),
      clientMetadata: (clientId) => clientStore.metadataOf(clientId),
      audit,
      logger,
    });
    // Account writes made here drop this process's copy and are announced to the others.
    const announced = announceAccountChanges(db.models, accountCache, notifier);
    const opened = stores;
    return {
      config,
      logger,
      db,
      stores,
      metrics,
      keyStore,
      clientStore,
      fileClients,
      audit,
      roles: createRoleService(db.sequelize, db.models, { adminDingtalkUserids: config.adminDingtalkUserids }),
      accountCache,
      access,
      async close() {
        await announced.flush();
        await db.close().catch(() => undefined);
        await opened.close();
        await embedded?.stop().catch(() => undefined);
      },
    };
  } catch (error) {
    await db.close().catch(() => undefined);
    stores?.disconnect();
    await embedded?.stop().catch(() => undefined);
    throw error;
  }
}

/** The core plus DingTalk, deprovisioning, the inbox and the provider: what the admin operations use. */
export async function composeServices(config: Config, logger: Logger, options: ComposeOptions = {}): Promise<Services> {
  return (await compose(config, logger, options)).services;
}

/** Everything a server process runs: the services and the Koa app in front of them. */
export async function composeServer(config: Config, logger: Logger): Promise<ServerServices> {
  const { services, parts } = await compose(config, logger, {});
  try {
    return { ...services, ...(await composeApp(services, parts)) };
  } catch (error) {
    await services.close();
    throw error;
  }
}

/** What the server part is built from besides the services. */
interface Parts {
  core: Core;
  consents: ReturnType<typeof createConsentStore>;
  mayUse: ReturnType<typeof createAccessCheck>;
  dingtalkClientId: string;
  dingtalkApp: { clientId: string; clientSecret: string; apiBaseUrl: string };
  /** The page templates, shared by the provider's pages and the interactions (one cache). */
  pages: ReturnType<typeof createPageRenderer>;
  /** Things the server part starts, stopped by the services' close(). */
  stops: (() => Promise<void> | void)[];
}

async function compose(config: Config, logger: Logger, options: ComposeOptions): Promise<{ services: Services; parts: Parts }> {
  const core = await composeCore(config, logger, options);
  const stops: Parts['stops'] = [];
  try {
    const { db, stores, metrics, keyStore, clientStore, audit, roles, accountCache, access } = core;
    const { adapter } = stores;
    const clients = createClientAdapter(clientStore, config.oidc.clientCacheMs);
    const resourceServers = createResourceServerCache(clientStore, config.oidc.clientCacheMs);
    const consents = createConsentStore(db.models);
    const upstream = await setUpDingTalk(config, stores, logger, metrics);
    const { corpId } = upstream;
    const mayUse = createAccessCheck((accountId) => accountCache.get(accountId));
    let holderRef: ProviderHolder | undefined;
    const afterSync = createAfterDirectorySync({ roles, audit, access });
    const deprovisioning = createDeprovisioning({
      models: db.models,
      provider: () => holderRef!.current(),
      accountIndex: adapter.accountIndex,
      // Sweeps, events and refresh checks: the call budget's background share.
      directory: upstream.dingtalk.directory,
      audit,
      logger,
      ...(corpId === undefined ? {} : { corpId }),
      markers: stores.markers,
      afterSync,
      profile: { emailFallbackDomain: config.login.emailFallbackDomain },
    });
    const sweep = createDirectorySweep({
      sequelize: db.sequelize,
      models: db.models,
      directory: upstream.dingtalk.directory,
      deprovisioning,
      audit,
      logger,
      ...(corpId === undefined ? {} : { corpId }),
      afterSync,
      provision: config.dingtalk.provision,
      profile: { emailFallbackDomain: config.login.emailFallbackDomain },
    });
    const inbox = createEventInbox({
      sequelize: db.sequelize,
      models: db.models,
      deprovisioning,
      logger,
      ...(corpId === undefined ? {} : { corpId }),
      onReceived: ({ transport, type, outcome }) => metrics.dingtalkEvents.inc({ transport, type, outcome }),
    });
    observeInbox(metrics, () => inbox.counts());
    const pages = createPageRenderer();
    const holder = await createProviderHolder(
      config,
      keyStore,
      {
        adapterFor: (model) => new adapter(model),
        clientAdapter: clients.adapter,
        findAccount: createFindAccount(accountCache, {
          mayUse,
          isMemberOnRefresh: (accountId) => deprovisioning.checkMembershipOnRefresh(accountId),
        }),
        staticClients: core.fileClients,
        findResourceServer: (identifier) => resourceServers.find(identifier),
        loadExistingGrant: createLoadExistingGrant(consents),
        mayUse,
        isActiveAccount: createIsActiveAccount(accountCache),
        rolesOf: (accountId) => accountCache.rolesOf(accountId),
        ...providerPages(pages),
      },
      logger,
      (provider) => attachProviderEvents(provider, { audit, logger }),
    );
    holderRef = holder;
    await followChanges(stores.notifier, { accountCache, clients, resourceServers, holder, logger });

    const { stores: _stores, accountCache: _cache, ...rest } = core;
    const services: Services = {
      ...rest,
      ...(stores.redis ? { redis: stores.redis } : {}),
      holder,
      dingtalk: upstream.dingtalk,
      deprovisioning,
      sweep,
      inbox,
      streamBoard: stores.streamBoard,
      accountIndex: adapter.accountIndex,
      ...(upstream.emulator ? { emulator: upstream.emulator } : {}),
      invalidateClients() {
        clients.invalidate();
        resourceServers.invalidate();
      },
      async close() {
        for (const stop of stops) await stop();
        // Drain: the item in hand is finished (or, if this process dies first, left to another replica).
        await inbox.stop();
        await core.close();
      },
    };
    return {
      services,
      parts: { core, consents, mayUse, dingtalkClientId: upstream.dingtalkClientId, dingtalkApp: upstream.app, pages, stops },
    };
  } catch (error) {
    await core.close();
    throw error;
  }
}

/** The server part: sync schedule, Stream connection, HTTP events, interactions, admin, demo → the Koa app. */
async function composeApp(services: Services, parts: Parts): Promise<Pick<ServerServices, 'app' | 'wellKnown' | 'eventStream' | 'demo'>> {
  const { config, logger, db, metrics, holder, clientStore, keyStore, roles, audit, access, deprovisioning, inbox, emulator } = services;
  const { core, consents, mayUse, pages, stops } = parts;
  const { stores } = core;
  if (config.dingtalk.syncIntervalMinutes > 0) {
    const schedule = startSyncSchedule({
      intervalMs: config.dingtalk.syncIntervalMinutes * 60_000,
      markers: stores.markers,
      run: () => services.sweep.sweep({ actor: 'dingtalk:schedule', trigger: 'schedule' }),
      logger,
    });
    stops.push(() => schedule.stop());
  }
  const eventStream =
    config.dingtalk.eventMode === 'stream'
      ? createEventStream({
          connection: { ...parts.dingtalkApp, timeoutMs: config.dingtalk.timeoutMs, ...config.dingtalk.stream },
          sink: inbox.receive,
          board: stores.streamBoard,
          metrics,
          logger,
        })
      : undefined;
  // Acks of events in hand go out while the database is still open.
  if (eventStream) stops.push(() => eventStream.stop());
  const dingtalkEvents =
    config.dingtalk.eventToken && config.dingtalk.eventAesKey
      ? createDingTalkEventsRouter({
          token: config.dingtalk.eventToken,
          aesKey: config.dingtalk.eventAesKey,
          ownerKey: parts.dingtalkClientId,
          sink: inbox.receive,
          logger,
        })
      : undefined;
  const interactions = createInteractionRouter({
    config,
    holder,
    pages,
    dingtalk: services.dingtalk.signIn,
    provisioning: createProvisioning(db.sequelize, db.models, {
      emailFallbackDomain: config.login.emailFallbackDomain,
      roles,
      audit,
      access,
    }),
    consents,
    ephemeral: stores.ephemeral,
    audit,
    logger,
    mayUse,
  });
  // The admin console is a first-party client of this issuer; the admin API a resource server.
  const admin = createAdminRoutes({
    issuer: config.issuer,
    sequelize: db.sequelize,
    models: db.models,
    sessions: stores.adminSessions,
    ephemeral: stores.ephemeral,
    keyStore,
    clientStore,
    // Registered when the server starts (startServer), not by every CLI command; read at first use.
    client: () => ensureAdminClient(clientStore, config.issuer),
    roles,
    deprovisioning,
    consents,
    accountIndex: services.accountIndex,
    provider: () => holder.current(),
    audit,
    logger,
    validateClient: (metadata) => holder.validateClient(metadata),
    keysChanged: () => stores.notifier.publish('keys'),
    // A person waits on the console's DingTalk check: the sign-in priority.
    dingtalk: services.dingtalk.interactive,
    dingtalkEvents: dingtalkEventSettings(config, services.streamBoard),
    access,
    inbox,
  });
  // Development: a demo client and a tiny relying party at /demo that signs in through the emulator.
  // Imported only then: it needs openid-client, a dev dependency that the production image lacks.
  const demo = config.demoClient ? await clientStore.ensureDemo(config.issuer) : undefined;
  const demoRouter = demo
    ? (await import('../demo/routes.js')).createDemoRouter({
        issuer: config.issuer,
        ...demo,
        cookieKeys: config.secrets.cookieKeys,
        pages,
        logger,
      })
    : undefined;
  const wellKnown = wellKnownDocuments(holder, wellKnownOptions(config));
  const app = createApp({
    config,
    logger,
    holder,
    wellKnown,
    pages,
    metrics,
    rateLimiters: stores.rateLimiters,
    routes: [
      ...(dingtalkEvents ? [dingtalkEvents.routes() as Koa.Middleware] : []),
      interactions.routes() as Koa.Middleware,
      interactions.allowedMethods() as Koa.Middleware,
      ...admin,
      ...(demoRouter ? [demoRouter.routes() as Koa.Middleware] : []),
    ],
    standalone: emulator ? [mount(EMULATOR_PATH, emulator.app)] : [],
    checks: { postgres: postgresAnswers(db.sequelize), ...stores.readiness, migrations: migrationsCurrent(db.sequelize) },
  });
  return { app, wellKnown, ...(eventStream ? { eventStream } : {}), ...(demo ? { demo } : {}) };
}

/** What the console and `dingtalk check` say about DingTalk events: which settings are set, the Stream connections. */
export function dingtalkEventSettings(config: Config, board: StatusBoard<StreamStatus>) {
  return {
    token: Boolean(config.dingtalk.eventToken),
    aesKey: Boolean(config.dingtalk.eventAesKey),
    mode: config.dingtalk.eventMode,
    streamConnections: () => board.list(),
  };
}
