/**
 * The admin console's sign-in sessions (who signed in to /admin, until when), server side under
 * `admin:session:<id>`; not oidc-provider's sessions, which admin/ops/sessions.ts lists and ends.
 */
import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { RedisClient } from './redis.js';

/** A signed-in admin, server side; the browser holds only its random id (signed cookie). */
export interface ConsoleSession {
  accountId: string;
  /** For RP-initiated logout (`id_token_hint`). */
  idToken: string;
  /**
   * The console's CSRF secret, made with the session: its forms' tokens are valid for this session
   * only, so a planted cookie (a sibling subdomain, a plain-http response) cannot forge a POST.
   */
  csrfSecret: string;
  createdAt: number;
  expiresAt: number;
}

export interface ConsoleSessionStore {
  create(session: Omit<ConsoleSession, 'createdAt' | 'expiresAt'>, ttlSeconds: number): Promise<string>;
  get(id: string): Promise<ConsoleSession | undefined>;
  destroy(id: string): Promise<void>;
}

const KEY = (id: string): string => `admin:session:${id}`;
const ID = /^[A-Za-z0-9_-]{43}$/;

function newId(): string {
  return randomBytes(32).toString('base64url');
}

/** Sessions in Redis (every replica sees them; they expire with their TTL). */
export function createRedisConsoleSessions(redis: RedisClient): ConsoleSessionStore {
  return {
    async create(session, ttlSeconds) {
      const id = newId();
      const now = Date.now();
      await redis.set(KEY(id), JSON.stringify({ ...session, createdAt: now, expiresAt: now + ttlSeconds * 1000 }), 'EX', ttlSeconds);
      return id;
    },
    async get(id) {
      if (!ID.test(id)) return undefined;
      const raw = await redis.get(KEY(id));
      if (raw === null) return undefined;
      const session = JSON.parse(raw) as ConsoleSession;
      return session.expiresAt > Date.now() ? session : undefined;
    },
    async destroy(id) {
      if (ID.test(id)) await redis.del(KEY(id));
    },
  };
}

/** Sessions in this process (development without Redis). */
export function createMemoryConsoleSessions(): ConsoleSessionStore {
  const cache = new LRUCache<string, ConsoleSession>({ max: 10_000 });
  return {
    async create(session, ttlSeconds) {
      const id = newId();
      const now = Date.now();
      cache.set(id, { ...session, createdAt: now, expiresAt: now + ttlSeconds * 1000 }, { ttl: ttlSeconds * 1000 });
      return id;
    },
    async get(id) {
      const session = cache.get(id);
      return session && session.expiresAt > Date.now() ? session : undefined;
    },
    async destroy(id) {
      cache.delete(id);
    },
  };
}
