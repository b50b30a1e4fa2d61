/**
 * Discovery (`/.well-known/openid-configuration`) and the JWKS (`/jwks`) served from memory, before
 * the rest of the app and oidc-provider run: both are read by every relying party and resource
 * server, often, and never change between key rotations.
 *
 * Two ways in, one response: `answer` is the HTTP listener's first look at a request (app/server.ts),
 * before Koa makes a context; `middleware` is the same answer as the app's first middleware (after
 * requireTls; http/app.ts), for the requests `answer` leaves to Koa and for anything that runs the Koa
 * app without the listener. Both build their status and headers with `responseFor`, so they answer
 * byte for byte alike. `answer` answers only what it is sure of — a GET or HEAD of exactly one of the
 * two paths, no query string, for the issuer's origin (protocol and host worked out as Koa does with
 * TRUST_PROXY: X-Forwarded-Proto and X-Forwarded-Host only behind a trusted proxy), with a copy kept
 * for the current provider instance — and leaves everything else to Koa untouched: so an https
 * issuer reached without TLS still meets requireTls (a plain-http request's origin is never the
 * issuer's), and a missing copy is filled through Koa. Neither way gives these two documents a
 * request id, an access line or an HTTP metric: they are outside what those measure, on purpose.
 *
 * The bodies are exactly oidc-provider's: the first GET for a provider instance and an origin goes
 * through to oidc-provider, and its answer (status 200) is kept — serialised as Koa serialises it,
 * with its Content-Type — for that provider instance. The holder builds a new Provider when the
 * signing keys change (oidc/provider.ts), so keying the copies by instance invalidates them on
 * rotation, on this replica and, once each replica notices the new key version (the key check of
 * `holder.checkKeysIfDue`, started by both ways in too), on every other.
 * They are also kept per origin, because oidc-provider builds endpoint URLs from the request's
 * origin (`ctx.href`, behind a trusted proxy the forwarded host and protocol); only a few origins
 * are kept (a deployment has one or two), so a client cannot grow the map with made-up Host headers:
 * further origins simply go through to oidc-provider.
 *
 * Each copy has a strong `ETag` (`If-None-Match` → 304, RFC 9110 weak comparison) and
 * `Cache-Control: public, max-age=…`:
 * discovery changes only with a new configuration, i.e. a restart; a rotated key is published
 * `keyActivationDelayMs` before it signs and replicas notice it within `keyCacheMs`, so a JWKS cached
 * for their difference (at most 5 minutes) always lists a key before anyone signs with it.
 * The CORS headers are oidc-provider's (`Vary: Origin`, `Access-Control-Allow-Origin` echoing the
 * Origin or `*`).
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
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
  /**
   * The Koa app's `proxy` (TRUST_PROXY): `answer` works out a request's origin as Koa does with it.
   * Without an `issuerOrigin`, `answer` answers nothing (the middleware still does).
   */
  trustProxy?: boolean;
}

export interface WellKnownDocuments {
  /** The app's first middleware (after requireTls): answers from memory, fills the copies. */
  middleware: Koa.Middleware;
  /**
   * The HTTP listener's first look, before Koa: true when it answered the request from a copy; false
   * when it left the request (and the response) untouched, for Koa.
   */
  answer: (req: IncomingMessage, res: ServerResponse) => boolean;
}

/** Max-ages that stay correct across a key rotation (see the header comment). */
export function wellKnownMaxAges(config: Config): { discoveryMaxAge: number; jwksMaxAge: number } {
  const margin = Math.floor((config.oidc.keyActivationDelayMs - config.oidc.keyCacheMs) / 1000);
  return { discoveryMaxAge: 300, jwksMaxAge: Math.max(0, Math.min(300, margin)) };
}

/** The options the product runs with: its issuer's origin, HSTS over https, TRUST_PROXY. */
export function wellKnownOptions(config: Config): WellKnownOptions {
  const issuer = new URL(config.issuer);
  return {
    ...wellKnownMaxAges(config),
    issuerOrigin: issuer.origin,
    trustProxy: config.trustProxy,
    ...(issuer.protocol === 'https:' ? { hsts: 'max-age=31536000; includeSubDomains' } : {}),
  };
}

export function wellKnownDocuments(
  holder: Pick<ProviderHolder, 'current' | 'checkKeysIfDue'>,
  options: WellKnownOptions,
): WellKnownDocuments {
  const copiesOf = new WeakMap<Provider, Copies>();
  const cacheControl: Record<string, string> = {
    [DISCOVERY_PATH]: `public, max-age=${options.discoveryMaxAge}`,
    [JWKS_PATH]: `public, max-age=${options.jwksMaxAge}`,
  };

  /** The copies of `path` kept for the current provider instance, by origin (starts a due key check). */
  function copiesFor(path: string): { provider: Provider; byOrigin: Map<string, Document> } {
    holder.checkKeysIfDue();
    const provider = holder.current();
    let copies = copiesOf.get(provider);
    if (!copies) copiesOf.set(provider, (copies = new Map()));
    let byOrigin = copies.get(path);
    if (!byOrigin) copies.set(path, (byOrigin = new Map<string, Document>()));
    return { provider, byOrigin };
  }

  /**
   * The one response to a request answered from a copy: status, then the headers as name, value,
   * name, value… in the order they are sent (Content-Length last; none of the body's on a 304).
   */
  function responseFor(
    path: string,
    document: Document,
    origin: string | undefined,
    ifNoneMatch: string | undefined,
  ): { status: 200 | 304; headers: string[] } {
    const headers = ['Vary', 'Origin', 'Access-Control-Allow-Origin', origin || '*', 'X-Content-Type-Options', 'nosniff'];
    if (options.hsts) headers.push('Strict-Transport-Security', options.hsts);
    headers.push('Cache-Control', cacheControl[path]!, 'ETag', document.etag);
    if (matches(ifNoneMatch, document.etag)) return { status: 304, headers };
    headers.push('Content-Type', document.type, 'Content-Length', String(document.body.length));
    return { status: 200, headers };
  }

  /** A GET or HEAD of one of the two documents, without a query string. */
  const serve = async (ctx: Koa.Context, next: Koa.Next, path: string): Promise<void> => {
    const { provider, byOrigin } = copiesFor(path);
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

    const { status, headers } = responseFor(path, document, ctx.get('Origin'), ctx.get('If-None-Match'));
    for (let i = 0; i < headers.length; i += 2) ctx.set(headers[i]!, headers[i + 1]!);
    if (status === 304) {
      ctx.status = 304;
      return;
    }
    ctx.body = document.body; // Content-Length as set above; Koa leaves the body out of a HEAD
  };

  // Every other request passes straight on, without an async frame (this runs first for all of them).
  const middleware: Koa.Middleware = (ctx, next) => {
    const { path } = ctx;
    if ((path !== DISCOVERY_PATH && path !== JWKS_PATH) || (ctx.method !== 'GET' && ctx.method !== 'HEAD') || ctx.querystring)
      return next();
    return serve(ctx, next, path);
  };

  const { issuerOrigin, trustProxy = false } = options;
  const answer = (req: IncomingMessage, res: ServerResponse): boolean => {
    // Exactly the path: a query string (or anything parseurl would read differently) goes to Koa.
    const path = req.url;
    if ((path !== DISCOVERY_PATH && path !== JWKS_PATH) || issuerOrigin === undefined) return false;
    const { method } = req;
    if (method !== 'GET' && method !== 'HEAD') return false;
    if (originOf(req, trustProxy) !== issuerOrigin) return false;
    const document = copiesFor(path).byOrigin.get(issuerOrigin);
    if (!document) return false; // the first request for this provider instance fills it, through Koa
    const { status, headers } = responseFor(path, document, req.headers.origin, req.headers['if-none-match']);
    try {
      res.writeHead(status, headers);
    } catch {
      // A header Node refuses to send (nothing was sent, nothing kept): Koa answers as it always has.
      return false;
    }
    res.end(status === 200 && method === 'GET' ? document.body : undefined);
    return true;
  };

  return { middleware, answer };
}

/**
 * `${ctx.protocol}://${ctx.host}` as Koa 3 works it out (request.js) with `app.proxy = trustProxy`,
 * or undefined where this would have to guess (a header Node hands over as a list, a Host with
 * userinfo, which Koa re-parses): Koa then decides.
 */
function originOf(req: IncomingMessage, trustProxy: boolean): string | undefined {
  let protocol = 'http';
  if ((req.socket as { encrypted?: boolean }).encrypted) protocol = 'https';
  else if (trustProxy) {
    const forwarded = header(req, 'x-forwarded-proto');
    if (forwarded === undefined) return undefined;
    if (forwarded) protocol = forwarded.split(',', 1)[0]!.trim().toLowerCase();
  }
  let host = trustProxy ? header(req, 'x-forwarded-host') : '';
  if (host === '' && req.httpVersionMajor >= 2) host = header(req, ':authority');
  if (host === '') host = header(req, 'host');
  if (!host) return undefined;
  host = host.split(',', 1)[0]!.trim();
  if (host.includes('@')) return undefined;
  return `${protocol}://${host}`;
}

/** Koa's `ctx.get(name)` ('' when absent), or undefined for a list (Node gives one only for set-cookie). */
function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' ? value : value === undefined ? '' : undefined;
}

/** RFC 9110 §13.1.2: weak comparison, `*` or a list of entity tags. */
function matches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => {
    const trimmed = tag.trim();
    return trimmed === etag || trimmed === `W/${etag}`;
  });
}
