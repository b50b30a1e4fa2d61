import type { RedisClient } from './redis.js';

/**
 * What each server process says about a connection it holds (the DingTalk Stream connection), so
 * that the console shows every replica and worker, not only the one serving the page. Redis when
 * configured: one hash per board (`dingtalk:stream`), a field per process, so it works on Redis
 * Cluster; an entry not refreshed within `ttlMs` is dropped (the process is gone). Memory otherwise.
 */
export interface StatusBoard<T> {
  publish(instance: string, status: T): Promise<void>;
  remove(instance: string): Promise<void>;
  /** Live entries, ordered by instance. */
  list(): Promise<StatusEntry<T>[]>;
}

export interface StatusEntry<T> {
  instance: string;
  /** When the process last published (epoch ms). */
  updatedAt: number;
  status: T;
}

export function createRedisStatusBoard<T>(redis: RedisClient, key: string, ttlMs: number): StatusBoard<T> {
  return {
    async publish(instance, status) {
      await redis.hset(key, instance, JSON.stringify({ updatedAt: Date.now(), status }));
      // The whole board goes when every process is gone; a single dead one is dropped by list().
      await redis.pexpire(key, ttlMs * 2);
    },
    async remove(instance) {
      await redis.hdel(key, instance);
    },
    async list() {
      const raw = await redis.hgetall(key);
      const now = Date.now();
      const entries: StatusEntry<T>[] = [];
      const stale: string[] = [];
      for (const [instance, value] of Object.entries(raw)) {
        const entry = parse(value);
        if (entry === undefined || now - entry.updatedAt > ttlMs) stale.push(instance);
        // Written by publish() of a board of the same T.
        else entries.push({ instance, updatedAt: entry.updatedAt, status: entry.status as T });
      }
      if (stale.length > 0) await redis.hdel(key, ...stale);
      return entries.sort((a, b) => a.instance.localeCompare(b.instance));
    },
  };
}

/** One process only (development without Redis, tests). */
export function createMemoryStatusBoard<T>(ttlMs: number): StatusBoard<T> {
  const entries = new Map<string, { updatedAt: number; status: T }>();
  return {
    async publish(instance, status) {
      entries.set(instance, { updatedAt: Date.now(), status });
    },
    async remove(instance) {
      entries.delete(instance);
    },
    async list() {
      const now = Date.now();
      return [...entries]
        .filter(([, entry]) => now - entry.updatedAt <= ttlMs)
        .map(([instance, entry]) => ({ instance, ...entry }))
        .sort((a, b) => a.instance.localeCompare(b.instance));
    },
  };
}

/**
 * Keeps this process's entry fresh: publishes each new status at once (coalesced) and again every
 * `ttlMs / 3` while nothing changes. A Redis failure is reported and retried on the next beat.
 */
export function startStatusPublisher<T>(
  board: StatusBoard<T>,
  instance: string,
  ttlMs: number,
  onError: (error: unknown) => void,
): { update(status: T): void; stop(): Promise<void> } {
  let latest: T | undefined;
  let writing: Promise<void> | undefined;
  let dirty = false;
  let stopped = false;
  const write = (): void => {
    if (latest === undefined || stopped) return;
    if (writing) {
      dirty = true;
      return;
    }
    const status = latest;
    writing = board
      .publish(instance, status)
      .catch(onError)
      .finally(() => {
        writing = undefined;
        if (dirty) {
          dirty = false;
          write();
        }
      });
  };
  const beat = setInterval(write, Math.max(1000, Math.floor(ttlMs / 3)));
  beat.unref();
  return {
    update(status) {
      latest = status;
      write();
    },
    async stop() {
      stopped = true;
      clearInterval(beat);
      await writing;
      await board.remove(instance).catch(onError);
    },
  };
}

function parse(value: string): { updatedAt: number; status: unknown } | undefined {
  try {
    const parsed = JSON.parse(value) as { updatedAt?: unknown; status?: unknown };
    return typeof parsed.updatedAt === 'number' && parsed.status !== undefined
      ? { updatedAt: parsed.updatedAt, status: parsed.status }
      : undefined;
  } catch {
    return undefined;
  }
}
