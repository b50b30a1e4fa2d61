import { LRUCache } from 'lru-cache';
import type { Adapter, AdapterPayload } from 'oidc-provider';

import { type AccountIndex, type IndexedAdapterConstructor, indexedAccountOf } from './account-index.js';
import { GRANTABLE_MODELS } from './redis-adapter.js';

/** Options of {@link createMemoryAdapterFactory}. */
export interface MemoryAdapterOptions {
  /**
   * Most entries kept (records plus their indexes). Beyond it the least recently used are evicted,
   * even if they have not expired: this store is for development and tests. Default 100 000 (a few hours of a busy dev loop).
   */
  max?: number;
  /** Seconds added to every TTL, as in the Redis adapter. Default 0. */
  clockTolerance?: number;
}

/**
 * What the cache holds under each key. Payloads are kept as JSON, so callers get a fresh copy on
 * every `find` and see exactly what the Redis adapter would return (e.g. no `undefined` fields).
 */
type Entry =
  | { type: 'record'; payload: string; consumed?: number }
  | { type: 'index'; id: string }
  /**
   * A grant's tokens (record keys) or an account's Sessions or Grants (ids): member → its expiry in
   * epoch ms (`Infinity` for none).
   */
  | { type: 'set'; members: Map<string, number> };

type RecordEntry = Extract<Entry, { type: 'record' }>;

/** Expired entries are dropped on read; a full sweep runs at most this often, on a write. */
const SWEEP_INTERVAL_MS = 60_000;

/**
 * Creates an in-memory oidc-provider storage adapter class with the same contract and key layout
 * as {@link createRedisAdapterFactory}: every model can be consumed, Sessions are indexed by
 * `uid`, DeviceCodes by `userCode`, grantable tokens by grant, Sessions and Grants by account (read
 * through the constructor's `accountIndex`). Each call gets its own store, so tests (and several
 * providers in one process) do not share state.
 *
 * For development and tests only: nothing survives a restart or is shared between processes.
 * Configure the provider with `adapter: createMemoryAdapterFactory()`.
 */
export function createMemoryAdapterFactory(options: MemoryAdapterOptions = {}): IndexedAdapterConstructor {
  const clockTolerance = options.clockTolerance ?? 0;
  // Entries get their own TTL on `set`; the cache itself has none, so TTL-less records (Clients)
  // stay until evicted.
  const cache = new LRUCache<string, Entry>({ max: options.max ?? 100_000 });
  let lastSweep = Date.now();

  const grantKey = (grantId: string): string => `grant:${grantId}`;
  const sessionUidKey = (uid: string): string => `sessionUid:${uid}`;
  const userCodeKey = (userCode: string): string => `userCode:${userCode}`;
  const accountKey = (accountId: string, model: string): string => `account:${accountId}:${model}`;

  /** `undefined` for no expiry, else the TTL in ms (<= 0 when already expired). */
  function ttlMs(expiresIn: number | undefined): number | undefined {
    if (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn)) return undefined;
    return (expiresIn + clockTolerance) * 1000;
  }

  function put(key: string, entry: Entry, ttl: number | undefined): void {
    cache.set(key, entry, ttl === undefined ? {} : { ttl: Math.ceil(ttl) });
  }

  function sweep(): void {
    const now = Date.now();
    if (now - lastSweep < SWEEP_INTERVAL_MS) return;
    lastSweep = now;
    cache.purgeStale();
  }

  function getRecord(key: string): RecordEntry | undefined {
    const entry = cache.get(key);
    return entry?.type === 'record' ? entry : undefined;
  }

  function getIndex(key: string): string | undefined {
    const entry = cache.get(key);
    return entry?.type === 'index' ? entry.id : undefined;
  }

  function getSetMembers(key: string): Map<string, number> {
    const entry = cache.get(key);
    return entry?.type === 'set' ? entry.members : new Map<string, number>();
  }

  /** Stores a set index with the TTL of its longest-lived member, dropping expired members. */
  function setSetMembers(key: string, members: Map<string, number>): void {
    const now = Date.now();
    for (const [member, expiresAt] of members) {
      if (expiresAt <= now) members.delete(member);
    }
    if (members.size === 0) {
      cache.delete(key);
      return;
    }
    const expiresAt = Math.max(...members.values());
    put(key, { type: 'set', members }, Number.isFinite(expiresAt) ? expiresAt - now : undefined);
  }

  function removeSetMember(key: string, member: string): void {
    const members = getSetMembers(key);
    if (members.delete(member)) setSetMembers(key, members);
  }

  /** Live ids of `model` records of the account: the record still exists and is still theirs. */
  function listAccount(accountId: string, model: string): string[] {
    const key = accountKey(accountId, model);
    const members = getSetMembers(key);
    const live: string[] = [];
    for (const id of [...members.keys()]) {
      const record = getRecord(`${model}:${id}`);
      if (record && indexedAccountOf(model, JSON.parse(record.payload) as AdapterPayload) === accountId) live.push(id);
      else members.delete(id);
    }
    setSetMembers(key, members);
    return live.sort();
  }

  const accountIndex: AccountIndex = {
    sessionIds: async (accountId) => listAccount(accountId, 'Session'),
    grantIds: async (accountId) => listAccount(accountId, 'Grant'),
  };

  function deleteIndexIfOwned(key: string, id: string): void {
    if (getIndex(key) === id) cache.delete(key);
  }

  return class MemoryAdapter implements Adapter {
    /** Sessions and Grants of one person, as the Redis adapter's `accountIndex`. */
    static readonly accountIndex: AccountIndex = accountIndex;

    readonly model: string;

    constructor(model: string) {
      this.model = model;
    }

    key(id: string): string {
      return `${this.model}:${id}`;
    }

    /** Removes what points at a record, so a replaced or deleted record leaves no dangling index. */
    #removeIndexes(id: string, payload: AdapterPayload): void {
      if (this.model === 'Session' && payload.uid) deleteIndexIfOwned(sessionUidKey(payload.uid), id);
      if (payload.userCode) deleteIndexIfOwned(userCodeKey(payload.userCode), id);
      if (GRANTABLE_MODELS.has(this.model) && payload.grantId) {
        removeSetMember(grantKey(payload.grantId), this.key(id));
      }
      const accountId = indexedAccountOf(this.model, payload);
      if (accountId !== undefined) removeSetMember(accountKey(accountId, this.model), id);
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      const record = getRecord(this.key(id));
      if (!record) return undefined;
      const payload = JSON.parse(record.payload) as AdapterPayload;
      if (record.consumed !== undefined) payload.consumed = record.consumed;
      return payload;
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      const id = getIndex(sessionUidKey(uid));
      return id === undefined ? undefined : this.find(id);
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      const id = getIndex(userCodeKey(userCode));
      return id === undefined ? undefined : this.find(id);
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
      sweep();
      const key = this.key(id);
      const ttl = ttlMs(expiresIn);
      if (ttl !== undefined && ttl <= 0) {
        await this.destroy(id);
        return;
      }

      const previous = await this.find(id);
      if (previous) this.#removeIndexes(id, previous);

      put(key, { type: 'record', payload: JSON.stringify(payload) }, ttl);
      if (this.model === 'Session' && payload.uid) {
        put(sessionUidKey(payload.uid), { type: 'index', id }, ttl);
      }
      if (payload.userCode) {
        put(userCodeKey(payload.userCode), { type: 'index', id }, ttl);
      }
      const expiresAt = ttl === undefined ? Infinity : Date.now() + ttl;
      if (GRANTABLE_MODELS.has(this.model) && payload.grantId) {
        const members = getSetMembers(grantKey(payload.grantId));
        members.set(key, expiresAt);
        setSetMembers(grantKey(payload.grantId), members);
      }
      const accountId = indexedAccountOf(this.model, payload);
      if (accountId !== undefined) {
        const members = getSetMembers(accountKey(accountId, this.model));
        members.set(id, expiresAt);
        setSetMembers(accountKey(accountId, this.model), members);
      }
    }

    async consume(id: string): Promise<void> {
      // Mutating the stored entry keeps its TTL. A missing id is a no-op, as in the Redis adapter.
      const record = getRecord(this.key(id));
      if (record) record.consumed = Math.floor(Date.now() / 1000);
    }

    async destroy(id: string): Promise<void> {
      const previous = await this.find(id);
      cache.delete(this.key(id));
      if (previous) this.#removeIndexes(id, previous);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      const members = getSetMembers(grantKey(grantId));
      for (const key of members.keys()) {
        const record = getRecord(key);
        cache.delete(key);
        if (record) {
          // Keys are `<Model>:<id>` and model names contain no `:`, so the id follows the first one.
          const id = key.slice(key.indexOf(':') + 1);
          const payload = JSON.parse(record.payload) as AdapterPayload;
          if (payload.userCode) deleteIndexIfOwned(userCodeKey(payload.userCode), id);
        }
      }
      cache.delete(grantKey(grantId));
    }
  };
}
