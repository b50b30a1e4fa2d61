import type { RedisClient } from './redis.js';

/** What changed, so every replica drops its copy at once instead of waiting for its cache time. */
export type ChangeTopic = 'clients' | 'keys' | 'accounts';

export interface ChangeNotifier {
  publish(topic: ChangeTopic, id?: string): Promise<void>;
  /** Calls `handler` for every change published by any process (this one included). */
  subscribe(handler: (topic: ChangeTopic, id: string | undefined) => void): Promise<void>;
  close(): Promise<void>;
}

const CHANNEL = 'oidc:changes';

/**
 * Redis pub/sub between replicas and the CLI. Best effort: a lost message only means the
 * short cache times (oidc.clientCacheMs, oidc.keyCacheMs) apply, so failures are logged, not thrown.
 */
export function createRedisChangeNotifier(redis: RedisClient, onError: (error: unknown) => void): ChangeNotifier {
  let subscriber: RedisClient | undefined;
  return {
    async publish(topic, id) {
      await redis.publish(CHANNEL, JSON.stringify({ topic, id })).catch(onError);
    },
    async subscribe(handler) {
      // A subscribed connection can do nothing else: a connection of its own.
      const connection = (redis as { duplicate(): RedisClient }).duplicate();
      subscriber = connection;
      connection.on('error', onError);
      connection.on('message', (_channel: string, message: string) => {
        try {
          const { topic, id } = JSON.parse(message) as { topic?: unknown; id?: unknown };
          // Anyone with access to Redis can publish: take only what we send, drop the rest.
          if (
            (topic !== 'clients' && topic !== 'keys' && topic !== 'accounts') ||
            (id !== undefined && (typeof id !== 'string' || id.length > 1024))
          )
            return;
          handler(topic, id);
        } catch (error) {
          onError(error);
        }
      });
      await connection.subscribe(CHANNEL).catch(onError);
    },
    async close() {
      subscriber?.disconnect();
    },
  };
}

/** One process, no Redis: changes made here are seen here. */
export function createLocalChangeNotifier(): ChangeNotifier {
  const handlers: ((topic: ChangeTopic, id: string | undefined) => void)[] = [];
  return {
    async publish(topic, id) {
      for (const handler of handlers) handler(topic, id);
    },
    async subscribe(handler) {
      handlers.push(handler);
    },
    async close() {},
  };
}
