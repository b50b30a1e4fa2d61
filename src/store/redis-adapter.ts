import type { ChainableCommander } from 'ioredis';
import type { Adapter, AdapterPayload } from 'oidc-provider';

import { type AccountIndex, type IndexedAdapterConstructor, indexedAccountOf } from './account-index.js';
import type { RedisClient } from './redis.js';

/** Options of {@link createRedisAdapterFactory}. */
export interface RedisAdapterOptions {
  /** Prefix of every key the adapter writes. Default `oidc:` (keys look like `oidc:Session:<id>`). */
  prefix?: string;
  /**
   * Seconds added to every TTL. Pass the provider's `clockTolerance` so that a token the provider
   * still accepts (until `exp + clockTolerance`) is still stored, as oidc-provider's own memory
   * adapter does. Default 0: entries vanish at `exp`.
   */
  clockTolerance?: number;
}

/**
 * Models that oidc-provider revokes together through `revokeByGrantId`, so they are indexed in
 * `grant:<grantId>`. Same list as oidc-provider 9's lib/adapters/memory_adapter.js.
 */
export const GRANTABLE_MODELS: ReadonlySet<string> = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
]);

/**
 * Turns oidc-provider's `expiresIn` into a Redis TTL in whole seconds. oidc-provider passes
 * `undefined` for records that never expire (e.g. `Client`, tokens without a configured ttl) and
 * `exp - now` otherwise, which can be 0 or negative for a record saved right at its expiry: that
 * is "already expired", never "forever".
 *
 * @returns `undefined` for no expiry; a number <= 0 when the record is already expired.
 */
export function ttlSeconds(expiresIn: number | undefined, clockTolerance = 0): number | undefined {
  if (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn)) return undefined;
  // EXPIRE takes whole seconds; rounding up never drops a record before its `exp`.
  return Math.ceil(expiresIn + clockTolerance);
}

// Single-key scripts (Cluster-safe): the check and the write must be atomic.
/** Marks a record consumed only if it still exists, so consuming an expired id leaves no TTL-less husk behind. */
const CONSUME_SCRIPT = `if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('HSET', KEYS[1], 'consumed', ARGV[1])
end
return 0`;
/** Deletes an index key only while it still points at this id: a newer record may own it now. */
const DELETE_IF_EQUALS_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`;

/** Runs a MULTI and surfaces the first per-command error, which ioredis only reports in the result array. */
async function exec(transaction: ChainableCommander): Promise<unknown[]> {
  const results = await transaction.exec();
  if (!results) throw new Error('Redis transaction was aborted');
  return results.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}

function parsePayload(json: string): AdapterPayload {
  return JSON.parse(json) as AdapterPayload;
}

/**
 * Adds `member` to the set `key` and makes the set live at least as long as the member: `NX` gives
 * a new set this TTL, `GT` only ever lengthens an existing one (needs Redis >= 7.0). One key, so
 * this MULTI is fine on Cluster.
 */
async function addToIndexSet(client: RedisClient, key: string, member: string, ttl: number | undefined): Promise<unknown> {
  const index = client.multi().sadd(key, member);
  if (ttl === undefined) {
    index.persist(key);
  } else {
    index.expire(key, ttl, 'NX').expire(key, ttl, 'GT');
  }
  return exec(index);
}

/**
 * The account index over a Redis store written by {@link createRedisAdapterFactory} (same client,
 * same prefix): `<prefix>account:<accountId>:<Model>` is a set of record ids. Listing reads each
 * record (one HGET per id, in parallel: the records live in different Cluster slots) and drops the
 * ids whose record is gone or now belongs to someone else, so the set does not grow with expired
 * sessions of a person who keeps signing in.
 */
export function createRedisAccountIndex(client: RedisClient, options: Pick<RedisAdapterOptions, 'prefix'> = {}): AccountIndex {
  const prefix = options.prefix ?? 'oidc:';

  async function list(accountId: string, model: string): Promise<string[]> {
    const indexKey = accountKey(prefix, accountId, model);
    const ids = await client.smembers(indexKey);
    if (ids.length === 0) return [];
    const payloads = await Promise.all(ids.map((id) => client.hget(`${prefix}${model}:${id}`, 'payload')));
    const live: string[] = [];
    const stale: string[] = [];
    ids.forEach((id, i) => {
      const payload = payloads[i];
      if (payload != null && indexedAccountOf(model, parsePayload(payload)) === accountId) live.push(id);
      else stale.push(id);
    });
    // Safe against a concurrent upsert: the adapter adds an id to the set only once its record is written.
    if (stale.length > 0) await client.srem(indexKey, ...stale);
    return live.sort();
  }

  return {
    sessionIds: (accountId) => list(accountId, 'Session'),
    grantIds: (accountId) => list(accountId, 'Grant'),
  };
}

function accountKey(prefix: string, accountId: string, model: string): string {
  return `${prefix}account:${accountId}:${model}`;
}

/**
 * Creates an oidc-provider storage adapter class backed by Redis (single, Sentinel or Cluster).
 * Configure the provider with `adapter: createRedisAdapterFactory(client)`: oidc-provider 9
 * accepts a constructor (it calls `new Adapter(modelName)` once per model) or a plain factory
 * function; this returns a constructor.
 *
 * Layout (with the default prefix):
 * - `oidc:<Model>:<id>`: a hash `{ payload: <JSON>, consumed?: <epoch seconds> }` for every model,
 *   so `consume()` works on any of them (PushedAuthorizationRequest and PreAuthorizedCode are
 *   consumed too in v9; a string value would answer WRONGTYPE).
 * - `oidc:sessionUid:<uid>` and `oidc:userCode:<code>`: the id, with the record's TTL.
 * - `oidc:grant:<grantId>`: a set of the record keys of every grantable token of that grant, whose
 *   TTL is raised to the longest member's (`EXPIRE NX` then `EXPIRE GT`: needs Redis >= 7.0).
 * - `oidc:account:<accountId>:Session` and `…:Grant`: sets of the ids of a person's Sessions and
 *   Grants, with the same TTL rule; read through the constructor's `accountIndex`
 *   ({@link createRedisAccountIndex}).
 *
 * Cluster: every MULTI and Lua script touches a single key; records and indexes that live in
 * different slots are written by independent commands issued in parallel. A token is looked up by
 * its id alone, so it cannot share a `{hash tag}` with its grant.
 */
export function createRedisAdapterFactory(
  client: RedisClient,
  options: RedisAdapterOptions = {},
): IndexedAdapterConstructor {
  const prefix = options.prefix ?? 'oidc:';
  const clockTolerance = options.clockTolerance ?? 0;
  const accountIndex = createRedisAccountIndex(client, { prefix });

  const grantKey = (grantId: string): string => `${prefix}grant:${grantId}`;
  const sessionUidKey = (uid: string): string => `${prefix}sessionUid:${uid}`;
  const userCodeKey = (userCode: string): string => `${prefix}userCode:${userCode}`;

  async function setIndex(key: string, id: string, ttl: number | undefined): Promise<unknown> {
    return ttl === undefined ? client.set(key, id) : client.set(key, id, 'EX', ttl);
  }

  async function deleteIndex(key: string, id: string): Promise<unknown> {
    return client.eval(DELETE_IF_EQUALS_SCRIPT, 1, key, id);
  }

  return class RedisAdapter implements Adapter {
    /** Sessions and Grants of one person: see {@link createRedisAccountIndex}. */
    static readonly accountIndex: AccountIndex = accountIndex;

    readonly model: string;

    constructor(model: string) {
      this.model = model;
    }

    key(id: string): string {
      return `${prefix}${this.model}:${id}`;
    }

    /** The hot path: one HMGET. */
    async find(id: string): Promise<AdapterPayload | undefined> {
      const [payload, consumed] = await client.hmget(this.key(id), 'payload', 'consumed');
      if (payload == null) return undefined;
      const result = parsePayload(payload);
      if (consumed != null) result.consumed = Number(consumed);
      return result;
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      const id = await client.get(sessionUidKey(uid));
      if (id == null) return undefined;
      const found = await this.find(id);
      // A stale index (its record replaced or destroyed) must not resolve to someone else's record.
      return found?.uid === uid ? found : undefined;
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      const id = await client.get(userCodeKey(userCode));
      if (id == null) return undefined;
      const found = await this.find(id);
      return found?.userCode === userCode ? found : undefined;
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
      const key = this.key(id);
      const ttl = ttlSeconds(expiresIn, clockTolerance);
      if (ttl !== undefined && ttl <= 0) {
        // Saved at (or past) its expiry: storing it would only leave garbage behind.
        await client.del(key);
        return;
      }

      // DEL first so a re-upsert replaces the whole record (a stale `consumed` included), as the
      // memory adapter does. One key, so this MULTI is fine on Cluster.
      const record = client.multi().del(key).hset(key, 'payload', JSON.stringify(payload));
      if (ttl !== undefined) record.expire(key, ttl);
      const recordWritten = exec(record);
      const writes: Promise<unknown>[] = [recordWritten];

      if (this.model === 'Session' && payload.uid) {
        writes.push(setIndex(sessionUidKey(payload.uid), id, ttl));
      }
      if (payload.userCode) {
        writes.push(setIndex(userCodeKey(payload.userCode), id, ttl));
      }
      if (GRANTABLE_MODELS.has(this.model) && payload.grantId) {
        // SADD: re-upserting a token does not duplicate it in the index. (A set made persistent by
        // a TTL-less member would get a TTL back from NX, but oidc-provider gives every grantable
        // model a ttl.)
        writes.push(addToIndexSet(client, grantKey(payload.grantId), key, ttl));
      }
      const accountId = indexedAccountOf(this.model, payload);
      if (accountId !== undefined) {
        // After the record, not beside it: the index may then drop any id whose record it cannot
        // find without racing this write. Sessions and Grants are saved far less often than tokens.
        writes.push(recordWritten.then(() => addToIndexSet(client, accountKey(prefix, accountId, this.model), id, ttl)));
      }

      await Promise.all(writes);
    }

    async consume(id: string): Promise<void> {
      await client.eval(CONSUME_SCRIPT, 1, this.key(id), Math.floor(Date.now() / 1000));
    }

    async destroy(id: string): Promise<void> {
      const key = this.key(id);
      // Read the payload while deleting (one round trip) to know which indexes to clean up.
      const [payload] = await exec(client.multi().hget(key, 'payload').del(key));
      if (typeof payload !== 'string') return;

      const parsed = parsePayload(payload);
      const { uid, userCode, grantId } = parsed;
      const accountId = indexedAccountOf(this.model, parsed);
      const cleanups: Promise<unknown>[] = [];
      if (accountId !== undefined) cleanups.push(client.srem(accountKey(prefix, accountId, this.model), id));
      if (this.model === 'Session' && uid) cleanups.push(deleteIndex(sessionUidKey(uid), id));
      if (userCode) cleanups.push(deleteIndex(userCodeKey(userCode), id));
      if (GRANTABLE_MODELS.has(this.model) && grantId) cleanups.push(client.srem(grantKey(grantId), key));
      await Promise.all(cleanups);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      const indexKey = grantKey(grantId);
      const members = await client.smembers(indexKey);
      if (members.length === 0) return;
      // One DEL per key: the tokens hash to different slots, so a multi-key DEL would be
      // CROSSSLOT on Cluster. SREM (not DEL) of the index keeps a token that was added to the
      // grant meanwhile, and Redis drops the set once it is empty.
      await Promise.all([
        ...members.map((member) => client.del(member)),
        client.srem(indexKey, ...members),
      ]);
    }
  };
}
