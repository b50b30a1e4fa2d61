import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Sequelize } from 'sequelize';
import type { Models } from '../db/models/index.js';
import type { SecretBox } from './secret-box.js';

export const SIGNING_ALGS = ['RS256', 'ES256'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];

export interface KeyInfo {
  kid: string;
  alg: string;
  status: 'active' | 'retired';
  createdAt: Date;
  retiredAt: Date | null;
  /** The key that signs new tokens of its algorithm. */
  current: boolean;
}

export interface KeyStore {
  /** Create a key for every algorithm that has none (first start); safe on several replicas. */
  ensure(algs?: readonly SigningAlg[]): Promise<string[]>;
  /** Add a new current key for `alg`; the previous ones stay published for verification. */
  rotate(alg: SigningAlg): Promise<KeyInfo>;
  /** Stop publishing a key (tokens signed with it no longer verify). */
  retire(kid: string): Promise<boolean>;
  list(): Promise<KeyInfo[]>;
  /** Private JWKs for oidc-provider: current keys first, the preferred algorithm first of all. */
  privateJwks(preferredAlg: SigningAlg): Promise<JWK[]>;
  /** Changes whenever the set of published keys changes (cheap; for cache invalidation). */
  version(): Promise<string>;
}

const LOCK_ID = 7_240_118;

export function createKeyStore(sequelize: Sequelize, models: Models, box: SecretBox): KeyStore {
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
      sealed: box.seal(JSON.stringify({ ...privateJwk, kid, alg, use: 'sig' })),
    };
  }

  async function insert(alg: SigningAlg): Promise<string> {
    const key = await generate(alg);
    await SigningKey.create({
      kid: key.kid,
      alg,
      publicJwk: key.publicJwk as Record<string, unknown>,
      privateJwkEncrypted: key.sealed,
      retiredAt: null,
    });
    return key.kid;
  }

  async function list(): Promise<KeyInfo[]> {
    const rows = await SigningKey.findAll({ order: [['createdAt', 'DESC'], ['kid', 'ASC']] });
    const seen = new Set<string>();
    return rows.map((row) => {
      const current = row.status === 'active' && !seen.has(row.alg);
      if (current) seen.add(row.alg);
      return {
        kid: row.kid,
        alg: row.alg,
        status: row.status,
        createdAt: row.createdAt,
        retiredAt: row.retiredAt,
        current,
      };
    });
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
              publicJwk: key.publicJwk as Record<string, unknown>,
              privateJwkEncrypted: key.sealed,
              retiredAt: null,
            },
            { transaction },
          );
          created.push(key.kid);
        }
        return created;
      });
    },
    async rotate(alg) {
      const kid = await insert(alg);
      const info = (await list()).find((key) => key.kid === kid);
      if (!info) throw new Error(`key ${kid} vanished after rotation`);
      return info;
    },
    async retire(kid) {
      const [count] = await SigningKey.update(
        { status: 'retired', retiredAt: new Date() },
        { where: { kid, status: 'active' } },
      );
      return count > 0;
    },
    list,
    async privateJwks(preferredAlg) {
      const rows = await SigningKey.findAll({
        where: { status: 'active' },
        order: [['createdAt', 'DESC'], ['kid', 'ASC']],
      });
      // oidc-provider signs with the first key that fits an algorithm: newest first per algorithm,
      // and the preferred algorithm's current key at the very front.
      const rank = (alg: string): number => (alg === preferredAlg ? 0 : 1);
      const sorted = [...rows].sort((a, b) => rank(a.alg) - rank(b.alg));
      return sorted.map((row) => JSON.parse(box.open(row.privateJwkEncrypted)) as JWK);
    },
    async version() {
      const [rows] = await sequelize.query(
        "SELECT coalesce(string_agg(kid || ':' || status, ',' ORDER BY kid), '') AS v FROM signing_keys",
      );
      return String((rows as { v: string }[])[0]?.v ?? '');
    },
  };
}
