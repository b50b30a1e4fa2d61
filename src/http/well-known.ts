/**
 * Discovery (`/.well-known/openid-configuration`) and the JWKS (`/jwks`) served from memory, before
 * the rest of the app and oidc-provider run: both are read by every relying party and resource
 * server, often, and never change between key rotations.
 *
 * The bodies are exactly oidc-provider's: the first GET for a provider instance and an origin goes
 * through to oidc-provider, and its answer (status 200) is kept — serialised as Koa serialises it,
 * with its Content-Type — for that provider instance. The holder builds a new Provider when the
 * signing keys change (oidc/provider.ts), so keying the copies by instance invalidates them on
 * rotation, on this replica and, once each replica notices the new key version (the key check of
 * `holder.checkKeysIfDue`, started here too), on every other.
 * They are also kept per origin, because oidc-provider builds endpoint URLs from the request's
 * origin (`ctx.href`, behind a trusted proxy the forwarded host and protocol); only a few origins
 * are kept (a deployment has one or two), so a client cannot grow the map with made-up Host headers:
 * further origins simply go through to oidc-provider.
 *
 * Each copy has a strong `ETag` (`If-None-Match` → 304) and `Cache-Control: public, max-age=…`:
 * discovery changes only with a new configuration, i.e. a restart; a rotated key is published
 * `keyActivationDelayMs` before it signs and replicas notice it within `keyCacheMs`, so a JWKS cached
 * for their difference (at most 5 minutes) always lists a key before anyone signs with it.
 * The CORS headers are oidc-provider's (`Vary: Origin`, `Access-Control-Allow-Origin` echoing the
 * Origin or `*`).
 */
import { createHash } from 'node:crypto';
import type Koa from 'koa';
import type Provider from 'oidc-provider';
import type { Config } from '../config/schema.js';
import type { ProviderHolder } from '../oidc/provider.js';

export const DISCOVERY_PATH = '/.well-known/openid-configuration';
export const JWKS_PATH = '/jwks';
/** Origins kept per provider instance; further ones are served by oidc-provider itself. */
const MAX_ORIGINS = 8;

interface Document {
  body: Buffer;
  type: string;
  etag: string;
}

/** One provider instance's copies: path → origin → document. */
type Copies = Map<string, Map<string, Document>>;

export interface WellKnownOptions {
  /** `Cache-Control` max-age of discovery, in seconds. */
  discoveryMaxAge: number;
  /** `Cache-Control` max-age of the JWKS, in seconds. */
  jwksMaxAge: number;
  /** Value of `Strict-Transport-Security` when the issuer is https. */
  hsts?: string;
  /**
   * The issuer's origin. Only requests for it are answered from memory and marked `public`:
   * oidc-provider builds the endpoint URLs from the request's Host (and X-Forwarded-Host behind a
   * trusted proxy), so a document for any other host must never reach a shared cache.
   */
  issuerOrigin?: string;
}

/** Max-ages that stay correct across a key rotation (see the header comment). */
export function wellKnownMaxAges(config: Config): { discoveryMaxAge: number; jwksMaxAge: number } {
  const margin = Math.floor((config.oidc.keyActivationDelayMs - config.oidc.keyCacheMs) / 1000);
  return { discoveryMaxAge: 300, jwksMaxAge: Math.max(0, Math.min(300, margin)) };
}

export function wellKnownDocuments(holder: Pick<ProviderHolder, 'current' | 'checkKeysIfDue'>, options: WellKnownOptions): Koa.Middleware {
  const copiesOf = new WeakMap<Provider, Copies>();
  const cacheControl: Record<string, string> = {
    [DISCOVERY_PATH]: `public, max-age=${options.discoveryMaxAge}`,
    [JWKS_PATH]: `public, max-age=${options.jwksMaxAge}`,
  };

  return async (ctx, next) => {
    const { path } = ctx;
    if ((path !== DISCOVERY_PATH && path !== JWKS_PATH) || (ctx.method !== 'GET' && ctx.method !== 'HEAD') || ctx.querystring) {
      await next();
      return;
    }
    holder.checkKeysIfDue();
    const provider = holder.current();
    let copies = copiesOf.get(provider);
    if (!copies) copiesOf.set(provider, (copies = new Map()));
    let byOrigin = copies.get(path);
    if (!byOrigin) copies.set(path, (byOrigin = new Map<string, Document>()));
    // Not ctx.origin: in Koa 3 that is the Origin request header.
    const origin = `${ctx.protocol}://${ctx.host}`;
    if (options.issuerOrigin !== undefined && origin !== options.issuerOrigin) {
      await next();
      ctx.set('Cache-Control', 'no-store');
      return;
    }
    const document = byOrigin.get(origin);

    if (!document) {
      await next();
      // Keep it only when it is a plain 200 from the provider that is still current.
      if (ctx.status !== 200 || ctx.body === null || typeof ctx.body !== 'object' || Buffer.isBuffer(ctx.body)) return;
      if (holder.current() !== provider || byOrigin.size >= MAX_ORIGINS) return;
      const body = Buffer.from(JSON.stringify(ctx.body));
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
      byOrigin.set(origin, { body, type: String(ctx.response.get('Content-Type')), etag });
      ctx.set('ETag', etag);
      ctx.set('Cache-Control', cacheControl[path]!);
      return;
    }

    ctx.set('Vary', 'Origin');
    ctx.set('Access-Control-Allow-Origin', ctx.get('Origin') || '*');
    ctx.set('X-Content-Type-Options', 'nosniff');
    if (options.hsts) ctx.set('Strict-Transport-Security', options.hsts);
    ctx.set('Cache-Control', cacheControl[path]!);
    ctx.set('ETag', document.etag);
    if (matches(ctx.get('If-None-Match'), document.etag)) {
      ctx.status = 304;
      return;
    }
    ctx.set('Content-Type', document.type);
    ctx.body = document.body;
  };
}

/** RFC 9110 §13.1.2: weak comparison, `*` or a list of entity tags. */
function matches(header: string, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => {
    const trimmed = tag.trim();
    return trimmed === etag || trimmed === `W/${etag}`;
  });
}
