/**
 * The baseline's storage: the simplest correct Redis adapter a user of bare oidc-provider 9 would
 * write (the shape of node-oidc-provider's old example/adapters/redis.js, for one Redis server):
 * every record is a string `SET key <JSON> EX ttl`, one command per write; a grantable token is
 * also added to its grant's set (SADD + EXPIRE NX/GT, pipelined) so that revokeByGrantId works;
 * `consume` rewrites the record with `consumed` set and the same TTL. No Cluster concerns, no
 * account index, no old formats.
 */
import type { Redis } from 'ioredis';
import type { Adapter, AdapterPayload } from 'oidc-provider';

const GRANTABLE = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
]);

export function createSimpleRedisAdapter(client: Redis, clockTolerance: number): new (model: string) => Adapter {
  return class SimpleRedisAdapter implements Adapter {
    constructor(readonly model: string) {}

    key(id: string): string {
      return `oidc:${this.model}:${id}`;
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
      const key = this.key(id);
      const ttl = expiresIn ? Math.ceil(expiresIn + clockTolerance) : undefined;
      const value = JSON.stringify(payload);
      const writes: Promise<unknown>[] = [ttl ? client.set(key, value, 'EX', ttl) : client.set(key, value)];
      if (GRANTABLE.has(this.model) && payload.grantId && ttl) {
        const grantKey = `oidc:grant:${payload.grantId}`;
        writes.push(client.pipeline().sadd(grantKey, key).expire(grantKey, ttl, 'NX').expire(grantKey, ttl, 'GT').exec());
      }
      if (payload.userCode) writes.push(client.set(`oidc:userCode:${payload.userCode}`, id, 'EX', ttl ?? 3600));
      if (payload.uid) writes.push(client.set(`oidc:uid:${payload.uid}`, id, 'EX', ttl ?? 3600));
      await Promise.all(writes);
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      const value = await client.get(this.key(id));
      return value ? (JSON.parse(value) as AdapterPayload) : undefined;
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      const id = await client.get(`oidc:uid:${uid}`);
      return id ? this.find(id) : undefined;
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      const id = await client.get(`oidc:userCode:${userCode}`);
      return id ? this.find(id) : undefined;
    }

    async consume(id: string): Promise<void> {
      const key = this.key(id);
      const value = await client.get(key);
      if (!value) return;
      const payload = JSON.parse(value) as AdapterPayload;
      payload.consumed = Math.floor(Date.now() / 1000);
      await client.set(key, JSON.stringify(payload), 'KEEPTTL');
    }

    async destroy(id: string): Promise<void> {
      await client.del(this.key(id));
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      const grantKey = `oidc:grant:${grantId}`;
      const keys = await client.smembers(grantKey);
      await client.del(...keys, grantKey);
    }
  };
}
