import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { Op, type Sequelize } from 'sequelize';
import type { Models } from '../db/models/index.js';
import type { SecretBox } from './secret-box.js';

export const SIGNING_ALGS = ['RS256', 'ES256'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];

export interface KeyInfo {
  kid: string;
  alg: string;
  status: 'active' | 'retired';
  createdAt: Date;
  /** When it starts signing (it is published from creation). */
  activatesAt: Date;
  retiredAt: Date | null;
  /** The key that signs new tokens of its algorithm. */
  current: boolean;
  /** Published, not signing yet. */
  pending: boolean;
}

export interface KeyStore {
  /** Create a key for every algorithm that has none (first start); safe on several replicas. */
  ensure(algs?: readonly SigningAlg[]): Promise<string[]>;
  /**
   * Add a key for `alg`. It is published at once and signs after `activationDelayMs` (so every
   * replica publishes it first), or at once with `immediate` (a compromised key). The previous
   * keys stay published for verification.
   */
  rotate(alg: SigningAlg, options?: { immediate?: boolean }): Promise<KeyInfo>;
  /** Stop publishing a key (tokens signed with it no longer verify). */
  retire(kid: string): Promise<boolean>;
  list(): Promise<KeyInfo[]>;
  /** Private JWKs for oidc-provider: current keys first, the preferred algorithm first of all. */
  privateJwks(preferredAlg: SigningAlg): Promise<JWK[]>;
  /** Changes whenever the set of published keys changes (cheap; for cache invalidation). */
  version(): Promise<string>;
  /** Re-seals private keys stored before they were bound to their row (v1 → v2); returns how many. */
  resealLegacy(): Promise<number>;
}

const LOCK_ID = 7_240_118;

export function createKeyStore(
  sequelize: Sequelize,
  models: Models,
  box: SecretBox,
  options: { activationDelayMs?: number } = {},
): KeyStore {
  const activationDelayMs = options.activationDelayMs ?? 0;
  const { SigningKey } = models;

  async function generate(alg: SigningAlg): Promise<{ kid: string; publicJwk: JWK; sealed: string }> {
    const { privateKey, publicKey } = await generateKeyPair(alg, {
      extractable: true,
      ...(alg === 'RS256' ? { modulusLength: 2048 } : {}),
    });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    const privateJwk = await exportJWK(privateKey);
    return {
      kid,
      publicJwk: { ...publicJwk, kid, alg, use: 'sig' },
      sealed: box.seal(JSON.stringify({ ...privateJwk, kid, alg, use: 'sig' }), kid),
    };
  }

  async function insert(alg: SigningAlg, activatesAt: Date | null): Promise<string> {
    const key = await generate(alg);
    await SigningKey.create({
      kid: key.kid,
      alg,
      publicJwk: key.publicJwk,
      privateJwkEncrypted: key.sealed,
      activatesAt,
      retiredAt: null,
    });
    return key.kid;
  }

  type Row = InstanceType<Models['SigningKey']>;

  /** Rows in signing order: activated keys newest first, then pending ones (published only). */
  function describe(rows: Row[], now = Date.now()): KeyInfo[] {
    const activation = (row: Row): Date => row.activatesAt ?? row.createdAt;
    const sorted = [...rows].sort((a, b) => {
      const pa = activation(a).getTime() > now ? 1 : 0;
      const pb = activation(b).getTime() > now ? 1 : 0;
      return pa - pb || activation(b).getTime() - activation(a).getTime() || a.kid.localeCompare(b.kid);
    });
    const seen = new Set<string>();
    return sorted.map((row) => {
      const pending = activation(row).getTime() > now;
      const current = row.status === 'active' && !pending && !seen.has(row.alg);
      if (current) seen.add(row.alg);
      return {
        kid: row.kid,
        alg: row.alg,
        status: row.status,
        createdAt: row.createdAt,
        activatesAt: activation(row),
        retiredAt: row.retiredAt,
        current,
        pending: row.status === 'active' && pending,
      };
    });
  }

  async function list(): Promise<KeyInfo[]> {
    return describe(await SigningKey.findAll());
  }

  return {
    async ensure(algs = SIGNING_ALGS) {
      // Several replicas may start at once: the transaction-scoped lock lets one of them create.
      return sequelize.transaction(async (transaction) => {
        await sequelize.query(`SELECT pg_advisory_xact_lock(${LOCK_ID})`, { transaction });
        const created: string[] = [];
        for (const alg of algs) {
          const existing = await SigningKey.count({ where: { alg, status: 'active' }, transaction });
          if (existing > 0) continue;
          const key = await generate(alg);
          await SigningKey.create(
            {
              kid: key.kid,
              alg,
              publicJwk: key.publicJwk,
              privateJwkEncrypted: key.sealed,
              activatesAt: null,
              retiredAt: null,
            },
            { transaction },
          );
          created.push(key.kid);
        }
        return created;
      });
    },
    async rotate(alg, rotateOptions = {}) {
      const delay = rotateOptions.immediate ? 0 : activationDelayMs;
      const kid = await insert(alg, delay > 0 ? new Date(Date.now() + delay) : null);
      const info = (await list()).find((key) => key.kid === kid);
      if (!info) throw new Error(`key ${kid} vanished after rotation`);
      return info;
    },
    async retire(kid) {
      const [count] = await SigningKey.update({ status: 'retired', retiredAt: new Date() }, { where: { kid, status: 'active' } });
      return count > 0;
    },
    list,
    async privateJwks(preferredAlg) {
      const rows = await SigningKey.findAll({ where: { status: 'active' } });
      const byKid = new Map(rows.map((row) => [row.kid, row]));
      // oidc-provider signs with the first key that fits an algorithm: the current keys first (the
      // preferred algorithm's at the very front), then older ones, then pending ones.
      const ordered = describe(rows).sort(
        (a, b) => Number(b.current) - Number(a.current) || Number(a.alg !== preferredAlg) - Number(b.alg !== preferredAlg),
      );
      return ordered.map((info) => JSON.parse(box.open(byKid.get(info.kid)!.privateJwkEncrypted, info.kid)) as JWK);
    },
    async resealLegacy() {
      let count = 0;
      for (const row of await SigningKey.findAll({ where: { privateJwkEncrypted: { [Op.startsWith]: 'v1.' } } })) {
        await row.update({ privateJwkEncrypted: box.seal(box.open(row.privateJwkEncrypted, row.kid), row.kid) });
        count += 1;
      }
      return count;
    },
    async version() {
      // Changes when a key is added or retired, and when a pending key starts signing.
      const keys = describe(await SigningKey.findAll({ attributes: ['kid', 'alg', 'status', 'createdAt', 'activatesAt', 'retiredAt'] }));
      return keys.map((k) => `${k.kid}:${k.status}:${k.current ? 'c' : k.pending ? 'p' : ''}`).join(',');
    },
  };
}
