import { createHash } from 'node:crypto';
import { type ChainableCommander, ReplyError } from 'ioredis';
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
/**
 * Marks a record consumed only if it still exists, so consuming an expired id leaves no TTL-less
 * husk behind. A record is the payload's JSON: `"consumed":<epoch seconds>` becomes its first
 * member (JSON.parse takes the last of two equal keys, so a payload that already carries an older
 * `consumed` keeps it: still consumed). Already marked: left as is (one mark, not one per attempt).
 * A hash is a record of the layout before issue #15 (`{ payload, consumed }`).
 */
const CONSUME_SCRIPT = `local kind = redis.call('TYPE', KEYS[1]).ok
if kind == 'string' then
  local value = redis.call('GET', KEYS[1])
  if string.sub(value, 1, 12) == '{"consumed":' then return 0 end
  local rest = string.sub(value, 2)
  if rest ~= '}' then rest = ',' .. rest end
  redis.call('SET', KEYS[1], '{"consumed":' .. ARGV[1] .. rest, 'KEEPTTL')
  return 1
elseif kind == 'hash' then
  return redis.call('HSET', KEYS[1], 'consumed', ARGV[1])
end
return 0`;
/** Deletes an index key only while it still points at this id: a newer record may own it now. */
const DELETE_IF_EQUALS_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`;
/**
 * Adds a member to an index set and makes the set live at least as long as the member: `NX` gives
 * a new set this TTL, `GT` only ever lengthens an existing one (Redis >= 7.0); no TTL (ARGV[2]
 * empty) makes the set persistent.
 */
const ADD_TO_INDEX_SCRIPT = `redis.call('SADD', KEYS[1], ARGV[1])
if ARGV[2] == '' then
  redis.call('PERSIST', KEYS[1])
else
  redis.call('EXPIRE', KEYS[1], ARGV[2], 'NX')
  redis.call('EXPIRE', KEYS[1], ARGV[2], 'GT')
end
return 1`;

/**
 * Redis answers an error as `CODE message` (RESP); the code is its first word, the protocol's own
 * stable identifier (e.g. `WRONGTYPE`, `NOSCRIPT`).
 */
function hasRedisErrorCode(error: unknown, code: string): boolean {
  // ioredis types ReplyError as `any`: the instanceof check is what narrows.
  return error instanceof (ReplyError as typeof Error) && error.message.startsWith(`${code} `);
}

/** A single-key Lua script run by its SHA1 (EVALSHA): the body is sent only when Redis does not know it yet. */
function script(lua: string): (client: RedisClient, key: string, ...args: (string | number)[]) => Promise<unknown> {
  const sha = createHash('sha1').update(lua).digest('hex');
  return async (client, key, ...args) => {
    try {
      return await client.evalsha(sha, 1, key, ...args);
    } catch (error) {
      // After a restart or SCRIPT FLUSH, or on a Cluster node that has not seen it: EVAL loads it.
      if (hasRedisErrorCode(error, 'NOSCRIPT')) return client.eval(lua, 1, key, ...args);
      throw error;
    }
  };
}

const consumeRecord = script(CONSUME_SCRIPT);
const deleteIfEquals = script(DELETE_IF_EQUALS_SCRIPT);
const addToIndex = script(ADD_TO_INDEX_SCRIPT);

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
 * Reads a record: its JSON string (one GET), or a hash written before issue #15 (`payload` and
 * `consumed` fields), which GET answers with WRONGTYPE. Sessions, Grants and refresh tokens live
 * for weeks, so records of the old layout are still read until they expire or are written again.
 */
async function readRecord(client: RedisClient, key: string): Promise<AdapterPayload | undefined> {
  let value: string | null;
  try {
    value = await client.get(key);
  } catch (error) {
    if (!hasRedisErrorCode(error, 'WRONGTYPE')) throw error;
    const [payload, consumed] = await client.hmget(key, 'payload', 'consumed');
    if (payload == null) return undefined;
    const result = parsePayload(payload);
    if (consumed != null) result.consumed = Number(consumed);
    return result;
  }
  return value == null ? undefined : parsePayload(value);
}

/**
 * Adds `member` to the set `key` and makes the set live at least as long as the member (one
 * EVALSHA on one key: Cluster-safe).
 */
async function addToIndexSet(client: RedisClient, key: string, member: string, ttl: number | undefined): Promise<unknown> {
  return addToIndex(client, key, member, ttl === undefined ? '' : ttl);
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
    const payloads = await Promise.all(ids.map((id) => readRecord(client, `${prefix}${model}:${id}`)));
    const live: string[] = [];
    const stale: string[] = [];
    ids.forEach((id, i) => {
      const payload = payloads[i];
      if (payload !== undefined && indexedAccountOf(model, payload) === accountId) live.push(id);
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
 * - `oidc:<Model>:<id>`: the payload's JSON, written with one `SET … EX` (issue #15: a
 *   client_credentials token is one command). `consume()` works on every model (v9 consumes
 *   PushedAuthorizationRequest and PreAuthorizedCode too): a script adds `"consumed"` to the JSON
 *   in place, keeping the TTL. Records written before issue #15 are hashes
 *   `{ payload, consumed? }`; they are still read, consumed and destroyed (see {@link readRecord}),
 *   and the next upsert of the same id replaces them with a string.
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
export function createRedisAdapterFactory(client: RedisClient, options: RedisAdapterOptions = {}): IndexedAdapterConstructor {
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
    return deleteIfEquals(client, key, id);
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

    /** The hot path: one GET. */
    async find(id: string): Promise<AdapterPayload | undefined> {
      return readRecord(client, this.key(id));
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

      // SET replaces the whole record (a stale `consumed`, or a hash of the old layout, included),
      // as the memory adapter does.
      const json = JSON.stringify(payload);
      const recordWritten = ttl === undefined ? client.set(key, json) : client.set(key, json, 'EX', ttl);
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
      await consumeRecord(client, this.key(id), Math.floor(Date.now() / 1000));
    }

    async destroy(id: string): Promise<void> {
      const key = this.key(id);
      // Read the payload while deleting (one command) to know which indexes to clean up.
      let payload: unknown;
      try {
        payload = await client.getdel(key);
      } catch (error) {
        if (!hasRedisErrorCode(error, 'WRONGTYPE')) throw error;
        // A hash of the layout before issue #15. One key, so this MULTI is fine on Cluster.
        [payload] = await exec(client.multi().hget(key, 'payload').del(key));
      }
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
      await Promise.all([...members.map((member) => client.del(member)), client.srem(indexKey, ...members)]);
    }
  };
}
