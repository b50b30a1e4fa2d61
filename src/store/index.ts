/**
 * The one place that picks the Redis world or the memory world: with REDIS_URL every store below is
 * the Redis one (shared by every replica, worker and CLI command), without it every store is this
 * process's memory (development, one process). Nothing else chooses; everything receives `Stores`.
 * A new storage backend is a third world here, with one implementation of each store.
 */
import { type ConsoleSessionStore, createMemoryConsoleSessions, createRedisConsoleSessions } from './console-sessions.js';
import type { Config } from '../config/schema.js';
import {
  type CallBudget,
  type CorpTokenCache,
  createCallBudget,
  createMemoryCorpTokenCache,
  createMemoryUseridCache,
  createRedisCorpTokenCache,
  createRedisUseridCache,
  type UseridCache,
  type StreamStatus,
} from '../dingtalk/index.js';
import type { Logger } from '../log.js';
import { type Metrics, observeRedis } from '../metrics.js';
import type { IndexedAdapterConstructor } from './account-index.js';
import { createMemoryEphemeralStore, createRedisEphemeralStore, type EphemeralStore } from './ephemeral.js';
import { createMemoryMarkerStore, createRedisMarkerStore, type MarkerStore } from './markers.js';
import { createMemoryAdapterFactory } from './memory-adapter.js';
import { type ChangeNotifier, createLocalChangeNotifier, createRedisChangeNotifier } from './notifications.js';
import { createMemoryLimiters, createRedisLimiters, type SharedLimiters } from './rate-limiters.js';
import { checkRedisReady, createRedis, parseRedisUrl, type RedisClient } from './redis.js';
import { createRedisAdapterFactory } from './redis-adapter.js';
import { createMemoryStatusBoard, createRedisStatusBoard, type StatusBoard } from './status-board.js';

type CallBudgetOptions = Parameters<typeof createCallBudget>[0];

export interface Stores {
  /** True in the Redis world: what is stored here is seen by every other process (servers and CLI). */
  shared: boolean;
  /** The Redis world's client (readiness checks, tests); absent in the memory world. */
  redis?: RedisClient;
  /** oidc-provider's adapter (sessions, grants, tokens, interactions…) with its per-account index. */
  adapter: IndexedAdapterConstructor;
  /** Single-use values with a TTL: DingTalk `state`, the admin console's login state. */
  ephemeral: EphemeralStore;
  /** "Done once" markers: DingTalk events seen, the last scheduled directory sync. */
  markers: MarkerStore;
  /** Client, key and account changes, to every replica (and from the CLI to the servers). */
  notifier: ChangeNotifier;
  /** The admin console's server-side sessions. */
  adminSessions: ConsoleSessionStore;
  /** The DingTalk app token of the app `clientId`, fetched once and shared. */
  corpTokenCache(clientId: string): CorpTokenCache;
  /** unionId → userid of the app's members, so a returning person's sign-in skips a DingTalk call. */
  useridCache(clientId: string): UseridCache;
  /** The DingTalk call budget of one app: shared by every replica and caller. */
  callBudget(options: Omit<CallBudgetOptions, 'redis'>): CallBudget;
  /** The counters of the rate limits that replicas share. */
  rateLimiters: SharedLimiters;
  /** Every server process's DingTalk Stream connection state, for the console. */
  streamBoard: StatusBoard<StreamStatus>;
  /** Readiness probe parts of this world (Redis answers, and on Cluster, the cluster is up). */
  readiness: Record<string, () => Promise<void>>;
  /** Stop listening for changes and close the connection (after the last write). */
  close(): Promise<void>;
  /** Drop the connection at once (start-up failed). */
  disconnect(): void;
}

export interface StoreOptions {
  logger: Logger;
  /** A server's metrics: Redis connection errors are counted and logged. */
  metrics?: Metrics;
  /**
   * A CLI command: connect at the first command and stay quiet on Redis errors (a lost change
   * notification only means the servers' cache times apply). A server connects at once and fails
   * to start without Redis.
   */
  command?: boolean;
}

/** Redis hash where every process publishes its Stream connection state (field = process). */
export const STREAM_BOARD_KEY = 'dingtalk:stream';
/** A process that has not published for this long is gone from the console's list. */
export const STREAM_BOARD_TTL_MS = 60_000;

/** A malformed REDIS_URL is a configuration problem: throws the ConfigError before anything starts. */
export function checkStoreSettings(config: Config): void {
  if (config.redis.url) parseRedisUrl(config.redis.url);
}

/** Both worlds, by name: the Redis one with REDIS_URL, the memory one without. */
export async function createStores(config: Config, options: StoreOptions): Promise<Stores> {
  return config.redis.url ? createRedisStores(config.redis.url, options) : createMemoryStores();
}

async function createRedisStores(url: string, { logger, metrics, command = false }: StoreOptions): Promise<Stores> {
  const redis = createRedis(url, { lazyConnect: command });
  if (command) redis.on('error', () => undefined);
  else if (metrics) observeRedis(redis, metrics, logger);
  if (!command) {
    try {
      await redis.ping();
    } catch (error) {
      redis.disconnect();
      throw error;
    }
  }
  const quiet = (): void => undefined;
  const notifier = createRedisChangeNotifier(
    redis,
    command ? quiet : (error) => logger.warn({ err: error }, 'change notifications: Redis failed'),
  );
  return {
    shared: true,
    redis,
    adapter: createRedisAdapterFactory(redis, { clockTolerance: 15 }),
    ephemeral: createRedisEphemeralStore(redis),
    markers: createRedisMarkerStore(redis),
    notifier,
    adminSessions: createRedisConsoleSessions(redis),
    corpTokenCache: (clientId) =>
      createRedisCorpTokenCache({
        redis,
        clientId,
        onError: (error) => logger.warn({ err: error }, 'DingTalk token cache: Redis failed, fetching directly'),
      }),
    useridCache: (clientId) =>
      createRedisUseridCache({
        redis,
        clientId,
        onError: (error) => logger.warn({ err: error }, 'DingTalk userid cache: Redis failed, asking DingTalk'),
      }),
    callBudget: (budget) => createCallBudget({ ...budget, redis }),
    rateLimiters: createRedisLimiters(redis),
    streamBoard: createRedisStatusBoard(redis, STREAM_BOARD_KEY, STREAM_BOARD_TTL_MS),
    // A Cluster node may answer PING while the cluster is down: checkRedisReady asks CLUSTER INFO.
    readiness: { redis: () => checkRedisReady(redis) },
    async close() {
      await notifier.close();
      // A command's lazy connection may never have opened: nothing to say goodbye to.
      if (command) redis.disconnect();
      else await redis.quit().catch(() => undefined);
    },
    disconnect() {
      redis.disconnect();
    },
  };
}

function createMemoryStores(): Stores {
  const notifier = createLocalChangeNotifier();
  return {
    shared: false,
    adapter: createMemoryAdapterFactory(),
    ephemeral: createMemoryEphemeralStore(),
    markers: createMemoryMarkerStore(),
    notifier,
    adminSessions: createMemoryConsoleSessions(),
    corpTokenCache: () => createMemoryCorpTokenCache(),
    useridCache: () => createMemoryUseridCache(),
    callBudget: (budget) => createCallBudget(budget),
    rateLimiters: createMemoryLimiters(),
    streamBoard: createMemoryStatusBoard(STREAM_BOARD_TTL_MS),
    readiness: {},
    async close() {
      await notifier.close();
    },
    disconnect() {},
  };
}
