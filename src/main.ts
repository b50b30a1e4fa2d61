/**
 * Composition root: Config → services (Postgres, Redis or memory, keys, clients, provider) → Koa
 * app → listen. Stops cleanly on SIGINT/SIGTERM: stop accepting, finish in-flight requests, close
 * pools, stop the embedded database.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import type { Duplex } from 'node:stream';
import type Koa from 'koa';
import type { Config } from './config/schema.js';
import { type EmbeddedDatabase, startEmbeddedPostgres } from './db/embedded.js';
import { migrate, pendingMigrations } from './db/migrator.js';
import { createDatabase, type Database } from './db/sequelize.js';
import { randomBytes } from 'node:crypto';
import mount from 'koa-mount';
import { createAccessCheck } from './accounts/access.js';
import { type AccessChanges, createAccessChanges, createAfterDirectorySync } from './accounts/access-changes.js';
import { createAuditLog } from './accounts/audit.js';
import { startSyncSchedule } from './accounts/sync-schedule.js';
import { createDeprovisioning, type Deprovisioning } from './accounts/deprovisioning.js';
import { createEventInbox, type EventInbox } from './accounts/event-inbox.js';
import { createConsentStore } from './accounts/consents.js';
import { createProvisioning } from './accounts/provisioning.js';
import { createRoleService, type RoleService } from './accounts/roles.js';
import { usesEmulator } from './config/load.js';
import { createDingTalk, createMemoryDepartmentCache, type DingTalk } from './dingtalk/index.js';
import { createStreamClient, type StreamClient, type StreamStatus } from './dingtalk/index.js';
import type { Emulator } from './emulator/index.js';
import { startStatusPublisher, type StatusBoard } from './store/status-board.js';
import { checkStoreSettings, createStores, STREAM_BOARD_TTL_MS, type Stores } from './store/index.js';
import { createApp } from './http/app.js';
import { createDingTalkEventsRouter } from './http/dingtalk-events.js';
import { migrationsCurrent } from './http/health.js';
import { createMetricsApp } from './http/metrics-server.js';
import {
  createMetrics,
  type Metrics,
  observeCallBudget,
  observeDingTalkCall,
  observeInbox,
  observeLogins,
  observeSequelize,
  observeStream,
} from './metrics.js';
import { createInteractionRouter } from './interactions/routes.js';
import { createAdminRoutes } from './admin/routes.js';
import { ensureAdminClient } from './admin/ops/admin-client.js';
import { createLoadExistingGrant } from './oidc/grants.js';
import type { AccountIndex } from './store/account-index.js';
import { createPageRenderer } from './ui/pages.js';
import { providerPages } from './http/provider-pages.js';
import type { Logger } from './log.js';
import { createAccountCache, watchAccountChanges } from './oidc/account-cache.js';
import { createFindAccount, createIsActiveAccount } from './oidc/claims.js';
import { attachProviderEvents } from './oidc/events.js';
import {
  type ClientStore,
  createClientAdapter,
  createClientStore,
  createResourceServerCache,
  readClientsFile,
  clientsFileOptions,
} from './oidc/clients.js';
import { createKeyStore, type KeyStore } from './oidc/keys.js';
import { createProviderHolder, type ProviderHolder } from './oidc/provider.js';
import { createSecretBox } from './oidc/secret-box.js';
import { checkRedisReady, type RedisClient } from './store/redis.js';

export interface Services {
  config: Config;
  logger: Logger;
  db: Database;
  redis?: RedisClient;
  keyStore: KeyStore;
  clientStore: ClientStore;
  holder: ProviderHolder;
  /** DingTalk: sign-in and the directory (dingtalk/index.ts). */
  dingtalk: DingTalk;
  roles: RoleService;
  /** Revokes grants that role and access-policy changes take away (accounts/access-changes.ts). */
  access: AccessChanges;
  /** Revoke, disable, enable, sync from DingTalk, DingTalk events (accounts/deprovisioning.ts). */
  deprovisioning: Deprovisioning;
  /**
   * The durable event inbox: `receive` is where HTTP and Stream events go; its worker is started by
   * startServer (every server process runs one), never by the CLI.
   */
  inbox: EventInbox;
  /** DINGTALK_EVENT_MODE=stream: this process's DingTalk Stream connection (started by startServer). */
  eventStream?: EventStream;
  /** Every server process's Stream connection state (Redis, or this process only). */
  streamBoard: StatusBoard<StreamStatus>;
  accountIndex: AccountIndex;
  /** The Prometheus registry /metrics serves, and the named metrics. */
  metrics: Metrics;
  /** The development demo client, when `demoClient` is on. */
  demo?: { clientId: string; clientSecret: string };
  /** The built-in DingTalk emulator, in development without DingTalk credentials. */
  emulator?: Emulator;
  app: Koa;
  /** Drop cached clients and resource servers (after a change made in this process). */
  invalidateClients(): void;
  close(): Promise<void>;
}

/** Open the database (embedded one in development), migrate or check, connect the stores. */
export async function openDatabase(config: Config, logger: Logger): Promise<{ db: Database; embedded?: EmbeddedDatabase }> {
  let embedded: EmbeddedDatabase | undefined;
  let url = config.database.url;
  if (!url) {
    embedded = await startEmbeddedPostgres(config.database.embeddedDir, config.database.embeddedPort, logger);
    url = embedded.url;
  }
  const db = createDatabase(url, { poolMax: config.database.poolMax });
  try {
    await db.sequelize.authenticate();
  } catch (error) {
    await db.close().catch(() => undefined);
    await embedded?.stop();
    throw new Error(`cannot connect to PostgreSQL (DATABASE_URL): ${(error as Error).message}`, { cause: error });
  }
  return { db, embedded };
}

export async function createServices(config: Config, logger: Logger): Promise<Services> {
  // A malformed REDIS_URL is a configuration problem: say so before starting anything.
  checkStoreSettings(config);
  const { db, embedded } = await openDatabase(config, logger);
  let stores: Stores | undefined;
  const metrics = createMetrics();
  observeSequelize(db.sequelize, metrics);
  try {
    if (config.database.migrateOnStart || !config.database.url) {
      const applied = await migrate(db);
      if (applied.length > 0) logger.info({ applied }, 'database migrated');
    } else {
      const pending = await pendingMigrations(db.sequelize);
      if (pending.length > 0) {
        throw new Error(`the database needs migrating (${pending.length} pending): run \`dingtalk-oidc migrate\` first`);
      }
    }

    stores = await createStores(config, { logger, metrics });
    const { adapter, notifier, redis } = stores;

    const keyStore = createKeyStore(db.sequelize, db.models, createSecretBox(config.secrets.keyEncryption, 'signing-keys'), {
      activationDelayMs: config.oidc.keyActivationDelayMs,
    });
    const created = await keyStore.ensure();
    if (created.length > 0) logger.info({ kids: created }, 'signing keys created');

    const fileClients = config.clientsFile ? readClientsFile(config.clientsFile, clientsFileOptions(config)) : [];
    const clientStore = createClientStore(db.models, createSecretBox(config.secrets.keyEncryption, 'client-secrets'), fileClients, (id) =>
      notifier.publish('clients', id),
    );
    // Secrets sealed before they were bound to their row (secret-box.ts v1) are re-sealed once.
    const resealed = (await keyStore.resealLegacy()) + (await clientStore.resealLegacy());
    if (resealed > 0) logger.info({ resealed }, 'stored secrets bound to their rows');
    const clients = createClientAdapter(clientStore, config.oidc.clientCacheMs);
    const resourceServers = createResourceServerCache(clientStore, config.oidc.clientCacheMs);
    const pages = createPageRenderer();
    const consents = createConsentStore(db.models);
    const audit = observeLogins(createAuditLog(db.models, logger), metrics);
    const roles = createRoleService(db.sequelize, db.models, { adminDingtalkUserids: config.adminDingtalkUserids });
    const { dingtalk, emulator, dingtalkClientId, app: dingtalkApp, corpId } = await setUpDingTalk(config, stores, logger, metrics);
    // Accounts for userinfo, refresh, introspection and access checks, from a per-process copy that
    // every write drops everywhere.
    const accountCache = createAccountCache(db.models, { ttlMs: config.oidc.accountCacheMs });
    const mayUse = createAccessCheck((accountId) => accountCache.get(accountId));
    // Access changes reach live grants: revoked when the change happens (and checked at every use).
    const access = createAccessChanges({
      models: db.models,
      adapter,
      lookup: (accountId) => accountCache.get(accountId),
      clientMetadata: (clientId) => clientStore.metadataOf(clientId),
      audit,
      logger,
    });
    let holderRef: ProviderHolder | undefined;
    const deprovisioning = createDeprovisioning({
      models: db.models,
      provider: () => holderRef!.current(),
      accountIndex: adapter.accountIndex,
      // Sweeps, events and refresh checks: the call budget's background share.
      directory: dingtalk.directory,
      audit,
      logger,
      ...(corpId === undefined ? {} : { corpId }),
      markers: stores.markers,
      afterSync: createAfterDirectorySync({ roles, audit, access }),
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
    watchAccountChanges(db.models, (change) => {
      accountCache.invalidate(change);
      void notifier.publish('accounts', change);
    });
    const findAccount = createFindAccount(accountCache, { mayUse });

    const holder = await createProviderHolder(
      config,
      keyStore,
      {
        adapterFor: (model) => new adapter(model),
        clientAdapter: clients.adapter,
        // A refresh is also a membership re-check: someone who left cannot refresh (cached a few minutes).
        findAccount: async (ctx, sub, token) => {
          const account = await findAccount(ctx, sub, token);
          if (!account || token?.kind !== 'RefreshToken' || ctx.oidc?.route !== 'token') return account;
          return (await deprovisioning.checkMembershipOnRefresh(sub)) ? account : undefined;
        },
        staticClients: fileClients,
        findResourceServer: (identifier) => resourceServers.find(identifier),
        loadExistingGrant: createLoadExistingGrant(consents),
        mayUse,
        isActiveAccount: createIsActiveAccount(accountCache),
        rolesOf: async (accountId) => [...((await accountCache.get(accountId))?.roles ?? [])],
        ...providerPages(pages),
      },
      logger,
      (provider) => attachProviderEvents(provider, { audit, logger }),
    );
    holderRef = holder;
    const schedule =
      config.dingtalk.syncIntervalMinutes > 0
        ? startSyncSchedule({
            intervalMs: config.dingtalk.syncIntervalMinutes * 60_000,
            markers: stores.markers,
            run: () => deprovisioning.syncAccounts({ actor: 'dingtalk:schedule' }),
            logger,
          })
        : undefined;
    await notifier.subscribe((topic, id) => {
      if (topic === 'clients') {
        clients.invalidate(id);
        resourceServers.invalidate();
      } else if (topic === 'accounts') {
        accountCache.invalidate(id ?? '*');
      } else if (topic === 'keys') {
        holder.reloadKeys().catch((error: unknown) => logger.warn({ err: error }, 'key reload failed'));
      }
    });
    // DINGTALK_EVENT_MODE=stream: this process holds a Stream connection (started by startServer, not
    // by CLI commands) and hands its events to the inbox; its state goes to /metrics and, for the
    // console, to a board every process writes to.
    const { streamBoard } = stores;
    let eventStream: EventStream | undefined;
    if (config.dingtalk.eventMode === 'stream') {
      const publisher = startStatusPublisher(streamBoard, processInstance(), STREAM_BOARD_TTL_MS, (error) =>
        logger.warn({ err: error }, 'DingTalk Stream: publishing the connection state to Redis failed'),
      );
      const observed = observeStream(metrics);
      const client = createStreamClient({
        ...dingtalkApp,
        timeoutMs: config.dingtalk.timeoutMs,
        ...config.dingtalk.stream,
        sink: inbox.receive,
        logger,
        onStatus: (status) => {
          observed.onStatus(status);
          publisher.update(status);
        },
        onEvent: observed.onEvent,
      });
      let stopping: Promise<void> | undefined;
      eventStream = {
        client,
        stop() {
          stopping ??= (async () => {
            await client.stop();
            await publisher.stop();
          })();
          return stopping;
        },
      };
    }
    const dingtalkEvents =
      config.dingtalk.eventToken && config.dingtalk.eventAesKey
        ? createDingTalkEventsRouter({
            token: config.dingtalk.eventToken,
            aesKey: config.dingtalk.eventAesKey,
            ownerKey: dingtalkClientId,
            sink: inbox.receive,
            logger,
          })
        : undefined;

    const interactions = createInteractionRouter({
      config,
      holder,
      pages,
      dingtalk: dingtalk.signIn,
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
      accountIndex: adapter.accountIndex,
      provider: () => holder.current(),
      audit,
      logger,
      validateClient: (metadata) => holder.validateClient(metadata),
      keysChanged: () => notifier.publish('keys'),
      // A person waits on the console's DingTalk check: the sign-in priority.
      dingtalk: dingtalk.interactive,
      dingtalkEvents: {
        token: Boolean(config.dingtalk.eventToken),
        aesKey: Boolean(config.dingtalk.eventAesKey),
        mode: config.dingtalk.eventMode,
        streamConnections: () => streamBoard.list(),
      },
      access,
      inbox,
    });

    // Development: a demo client and a tiny relying party at /demo that signs in through the emulator.
    // Imported only then: it needs openid-client, a dev dependency that the production image lacks.
    const demo = config.demoClient ? await clientStore.ensureDemo(config.issuer) : undefined;
    const demoRouter = demo
      ? (await import('./demo/routes.js')).createDemoRouter({
          issuer: config.issuer,
          ...demo,
          cookieKeys: config.secrets.cookieKeys,
          pages,
          logger,
        })
      : undefined;

    const app = createApp({
      config,
      logger,
      holder,
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
      checks: {
        postgres: async () => {
          await db.sequelize.query('SELECT 1');
        },
        // A Cluster node may answer PING while the cluster is down: checkRedisReady asks CLUSTER INFO.
        ...(redis ? { redis: () => checkRedisReady(redis) } : {}),
        migrations: migrationsCurrent(db.sequelize),
      },
    });

    return {
      config,
      logger,
      db,
      redis,
      keyStore,
      clientStore,
      holder,
      dingtalk,
      roles,
      access,
      deprovisioning,
      inbox,
      ...(eventStream === undefined ? {} : { eventStream }),
      streamBoard,
      accountIndex: adapter.accountIndex,
      metrics,
      emulator,
      demo,
      app,
      invalidateClients() {
        clients.invalidate();
        resourceServers.invalidate();
      },
      async close() {
        schedule?.stop();
        // Acks of events in hand go out while the database is still open.
        await eventStream?.stop();
        // Drain: the item in hand is finished (or, if this process dies first, left to another replica).
        await inbox.stop();
        await db.close().catch(() => undefined);
        await stores!.close();
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

/** This process's DingTalk Stream connection. */
export interface EventStream {
  client: StreamClient;
  /** Closes the connection (acks in hand go out first) and removes this process from the board. */
  stop(): Promise<void>;
}

/** Names this process on the console: host (the pod, in Kubernetes), pid and a few random characters. */
function processInstance(): string {
  return `${hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`;
}

/** Where `npm start` serves the DingTalk emulator when no DingTalk app is configured. */
export const EMULATOR_PATH = '/dingtalk-emulator';

/**
 * The DingTalk client on the configured DingTalk, or — in development without credentials — on
 * the built-in emulator served by this same server under EMULATOR_PATH, so that only the
 * DINGTALK_* settings tell the two apart.
 */
async function setUpDingTalk(
  config: Config,
  stores: Stores,
  logger: Logger,
  metrics: Metrics,
): Promise<{
  /** Sign-in and the directory, each at its priority in the call budget (dingtalk/contract.ts). */
  dingtalk: DingTalk;
  emulator?: Emulator;
  dingtalkClientId: string;
  /** The app's credentials and api base URL (the emulator's in development), for the Stream connection. */
  app: { clientId: string; clientSecret: string; apiBaseUrl: string };
  corpId?: string;
}> {
  let settings = {
    clientId: config.dingtalk.clientId ?? '',
    clientSecret: config.dingtalk.clientSecret ?? '',
    corpId: config.dingtalk.corpId,
    loginBaseUrl: config.dingtalk.loginBaseUrl,
    apiBaseUrl: config.dingtalk.apiBaseUrl,
    oapiBaseUrl: config.dingtalk.oapiBaseUrl,
  };
  let emulator: Emulator | undefined;
  if (usesEmulator(config)) {
    // Loaded only when it is used: production never needs the emulator (issue #15: idle memory).
    const { createEmulator, defaultSeed } = await import('./emulator/index.js');
    const base = `${config.issuer}${EMULATOR_PATH}`;
    const corpId = config.dingtalk.corpId ?? defaultSeed().corp.corpId;
    settings = {
      clientId: 'dingtalk-emulator-app',
      clientSecret: randomBytes(24).toString('base64url'),
      corpId,
      loginBaseUrl: base,
      apiBaseUrl: base,
      oapiBaseUrl: base,
    };
    emulator = createEmulator({
      clientId: settings.clientId,
      clientSecret: settings.clientSecret,
      corpId,
      publicBaseUrl: base,
      redirectUris: [`${config.issuer}/dingtalk/callback`],
    });
  }
  const tokenCache = stores.corpTokenCache(settings.clientId);
  // One budget for every caller of this app; with Redis, for every replica too.
  const budget = stores.callBudget({
    appKey: settings.clientId,
    limits: config.dingtalk.callBudget,
    ...observeCallBudget(metrics, logger),
  });
  const shared = {
    ...settings,
    timeoutMs: config.dingtalk.timeoutMs,
    tokenCache,
    departmentCache: createMemoryDepartmentCache(),
    budget,
    onCall: observeDingTalkCall(metrics, logger),
  };
  const dingtalk = createDingTalk({ ...shared, codeWaitMs: config.dingtalk.callBudget.signInCodeWaitMs });
  return {
    dingtalk,
    emulator,
    dingtalkClientId: settings.clientId,
    app: { clientId: settings.clientId, clientSecret: settings.clientSecret, apiBaseUrl: settings.apiBaseUrl },
    ...(settings.corpId === undefined ? {} : { corpId: settings.corpId }),
  };
}

export interface RunningServer {
  url: string;
  /** Where /metrics is served when METRICS_PORT is set. */
  metricsUrl?: string;
  services: Services;
  server: http.Server;
  close(): Promise<void>;
}

/** Start serving; resolves once listening. */
export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  const services = await createServices(config, logger);
  // The admin console's client and the admin API's resource server (idempotent).
  try {
    await ensureAdminClient(services.clientStore, config.issuer);
  } catch (error) {
    await services.close();
    throw error;
  }
  const handle = services.app.callback();
  // Koa answers its own errors (ctx.onerror), so the request's promise never rejects: nothing to await.
  const server = http.createServer((req, res) => void handle(req, res));
  server.keepAliveTimeout = 65_000; // longer than common load balancer idle timeouts
  // The built-in emulator's Stream endpoint is a WebSocket on this same server.
  const { emulator } = services;
  if (emulator) {
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      if (req.url?.startsWith(`${EMULATOR_PATH}/`)) emulator.handleUpgrade(req, socket, head, EMULATOR_PATH);
      else socket.destroy();
    });
  }
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => resolve());
    });
  } catch (error) {
    await services.close(); // or the embedded PostgreSQL and the pools keep the process alive
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(
      code === 'EADDRINUSE'
        ? `port ${config.port} is already in use (PORT)`
        : `cannot listen on ${config.host}:${config.port}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const metricsServer = await listenForMetrics(config, services.metrics).catch(async (error: unknown) => {
    server.close();
    await services.close();
    throw error;
  });
  const { port } = server.address() as AddressInfo;
  services.inbox.startWorker();
  services.eventStream?.client.start();
  let closing: Promise<void> | undefined;
  const host = config.host === '0.0.0.0' ? 'localhost' : config.host;
  return {
    url: `http://${host}:${port}`,
    ...(metricsServer ? { metricsUrl: `http://${host}:${(metricsServer.address() as AddressInfo).port}/metrics` } : {}),
    services,
    server,
    close() {
      closing ??= (async () => {
        // WebSockets are not idle HTTP connections: close them first, or server.close() waits on them.
        await services.eventStream?.stop();
        emulator?.stream.close();
        metricsServer?.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        });
        await services.close();
      })();
      return closing;
    },
  };
}

/** `/metrics` on its own port (METRICS_PORT), off the public listener; undefined without one. */
async function listenForMetrics(config: Config, metrics: Metrics): Promise<http.Server | undefined> {
  if (!config.metrics.enabled || config.metrics.port === undefined) return undefined;
  const handle = createMetricsApp(metrics, config.metrics.token).callback();
  const server = http.createServer((req, res) => void handle(req, res)); // never rejects, as in startServer
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new Error(
          error.code === 'EADDRINUSE'
            ? `port ${config.metrics.port} is already in use (METRICS_PORT)`
            : `cannot listen on METRICS_PORT: ${error.message}`,
          { cause: error },
        ),
      ),
    );
    server.listen(config.metrics.port, config.host, () => resolve());
  });
  return server;
}
