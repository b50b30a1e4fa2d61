import { createLocalJWKSet, errors as joseErrors, type JSONWebKeySet, type JWK, jwtVerify, type JWTPayload } from 'jose';
import type { KeyStore } from '../oidc/keys.js';

/** How long the published key set is trusted before the key store's version is asked again. */
const RECHECK_MS = 30_000;
const FORCED_RECHECK_MS = 5_000;

const PUBLIC_MEMBERS = ['kty', 'kid', 'alg', 'use', 'n', 'e', 'crv', 'x', 'y'] as const;

/**
 * Verifies JWTs our own issuer signed (the console's ID tokens, the admin API's access tokens)
 * against the key store's published keys, in process: no HTTP call to our own /jwks. The key set
 * is rebuilt when the store's version changes, and at once when a token names an unknown key
 * (a rotation on another replica).
 */
export function createTokenVerifier(keyStore: KeyStore, issuer: string) {
  let cached: { version: string; checkedAt: number; jwks: ReturnType<typeof createLocalJWKSet> } | undefined;

  async function keySet(force: boolean) {
    const now = Date.now();
    if (cached && !force && now - cached.checkedAt < RECHECK_MS) return cached.jwks;
    // A token naming an unknown key forces a re-read, but at most every few seconds: made-up kids
    // must not turn into a database query per request.
    if (cached && force && now - cached.checkedAt < FORCED_RECHECK_MS) return cached.jwks;
    const version = await keyStore.version();
    if (cached && cached.version === version) {
      cached.checkedAt = now;
      return cached.jwks;
    }
    const keys = (await keyStore.privateJwks('RS256')).map((jwk) => publicPart(jwk));
    const set: JSONWebKeySet = { keys };
    cached = { version, checkedAt: now, jwks: createLocalJWKSet(set) };
    return cached.jwks;
  }

  async function verify(token: string, options: { audience: string; typ?: string }): Promise<JWTPayload> {
    const check = { issuer, audience: options.audience, algorithms: ['RS256', 'ES256'], ...(options.typ ? { typ: options.typ } : {}) };
    try {
      return (await jwtVerify(token, await keySet(false), check)).payload;
    } catch (error) {
      if (!(error instanceof joseErrors.JWKSNoMatchingKey)) throw error;
      return (await jwtVerify(token, await keySet(true), check)).payload;
    }
  }

  return { verify };
}

export type TokenVerifier = ReturnType<typeof createTokenVerifier>;

function publicPart(jwk: JWK): JWK {
  const out: Record<string, unknown> = {};
  for (const member of PUBLIC_MEMBERS) if (jwk[member] !== undefined) out[member] = jwk[member];
  return out;
}
