/**
 * Composition root: Config → services (Postgres, Redis or memory, keys, clients, provider) → Koa
 * app → listen. Stops cleanly on SIGINT/SIGTERM: stop accepting, finish in-flight requests, close
 * pools, stop the embedded database.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import type { AdapterConstructor } from 'oidc-provider';
import type { Config } from './config/schema.js';
import { type EmbeddedDatabase, startEmbeddedPostgres } from './db/embedded.js';
import { migrate, pendingMigrations } from './db/migrator.js';
import { createDatabase, type Database } from './db/sequelize.js';
import { createApp } from './http/app.js';
import { createPageRenderer } from './http/pages.js';
import { providerPages } from './http/provider-pages.js';
import type { Logger } from './log.js';
import { createFindAccount } from './oidc/claims.js';
import {
  type ClientStore,
  createClientAdapter,
  createClientStore,
  createResourceServerCache,
  readClientsFile,
} from './oidc/clients.js';
import { createKeyStore, type KeyStore } from './oidc/keys.js';
import { createProviderHolder, type ProviderHolder } from './oidc/provider.js';
import { createSecretBox } from './oidc/secret-box.js';
import { createMemoryAdapterFactory } from './store/memory-adapter.js';
import { createRedis, type RedisClient } from './store/redis.js';
import { createRedisAdapterFactory } from './store/redis-adapter.js';

export interface Services {
  config: Config;
  logger: Logger;
  db: Database;
  redis?: RedisClient;
  keyStore: KeyStore;
  clientStore: ClientStore;
  holder: ProviderHolder;
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
  const { db, embedded } = await openDatabase(config, logger);
  let redis: RedisClient | undefined;
  try {
    if (config.database.migrateOnStart || !config.database.url) {
      const applied = await migrate(db.sequelize);
      if (applied.length > 0) logger.info({ applied }, 'database migrated');
    } else {
      const pending = await pendingMigrations(db.sequelize);
      if (pending.length > 0) {
        throw new Error(`the database needs migrating (${pending.length} pending): run \`dingtalk-oidc migrate\` first`);
      }
    }

    let adapter: AdapterConstructor;
    if (config.redis.url) {
      redis = createRedis(config.redis.url);
      await redis.ping();
      adapter = createRedisAdapterFactory(redis, { clockTolerance: 15 });
    } else {
      adapter = createMemoryAdapterFactory();
    }

    const keyStore = createKeyStore(db.sequelize, db.models, createSecretBox(config.secrets.keyEncryption, 'signing-keys'));
    const created = await keyStore.ensure();
    if (created.length > 0) logger.info({ kids: created }, 'signing keys created');

    const fileClients = config.clientsFile ? readClientsFile(config.clientsFile) : [];
    const clientStore = createClientStore(
      db.models,
      createSecretBox(config.secrets.keyEncryption, 'client-secrets'),
      fileClients,
    );
    const clients = createClientAdapter(clientStore, config.oidc.clientCacheMs);
    const resourceServers = createResourceServerCache(clientStore, config.oidc.clientCacheMs);
    const pages = createPageRenderer();

    const holder = await createProviderHolder(
      config,
      keyStore,
      {
        adapterFor: (model) => new adapter(model),
        clientAdapter: clients.adapter,
        findAccount: createFindAccount(db.models),
        staticClients: fileClients,
        findResourceServer: (identifier) => resourceServers.find(identifier),
        ...providerPages(pages),
      },
      logger,
    );

    const app = createApp({
      config,
      logger,
      holder,
      pages,
      checks: {
        postgres: async () => {
          await db.sequelize.query('SELECT 1');
        },
        ...(redis ? { redis: async () => void (await redis!.ping()) } : {}),
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
      app,
      invalidateClients() {
        clients.invalidate();
        resourceServers.invalidate();
      },
      async close() {
        await db.close().catch(() => undefined);
        await redis?.quit().catch(() => undefined);
        await embedded?.stop().catch(() => undefined);
      },
    };
  } catch (error) {
    await db.close().catch(() => undefined);
    redis?.disconnect();
    await embedded?.stop().catch(() => undefined);
    throw error;
  }
}

export interface RunningServer {
  url: string;
  services: Services;
  server: http.Server;
  close(): Promise<void>;
}

/** Start serving; resolves once listening. */
export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  const services = await createServices(config, logger);
  const server = http.createServer(services.app.callback());
  server.keepAliveTimeout = 65_000; // longer than common load balancer idle timeouts
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${port}`,
    services,
    server,
    close() {
      closing ??= (async () => {
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
