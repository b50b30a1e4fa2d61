import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import koaHelmet from 'koa-helmet';
import type { Middleware } from 'koa';

declare module 'koa' {
  interface DefaultState {
    /** This response's CSP nonce; templates get it as `cspNonce` (ui/pages.ts). */
    cspNonce?: string;
  }
}

/**
 * The Content-Security-Policy with a fresh nonce per response, split around the nonce so that each
 * request only joins three strings. `script-src` comes first among the script directives and starts
 * with `'self'`: the login page adds DingTalk's JSAPI origin right after it (interactions/login.ts),
 * and oidc-provider appends the sha256 of its own inline scripts (form_post) to `script-src`
 * (lib/helpers/script_src_sha.js). `form-action` is left out on purpose: a consent or logout form is
 * answered by a redirect to the relying party, and Chromium applies form-action to that redirect too.
 */
export function contentSecurityPolicy(options: { https: boolean }): { before: string; after: string } {
  // koa-helmet's CSP middleware builds the header; the nonce goes through it as helmet documents it
  // (a directive function reading `res.locals.cspNonce`). It runs once, on a marker nonce, and the
  // result is split around the marker, so a request only joins three strings.
  const marker = 'NONCE-MARKER-7f3a9c';
  const csp = recordHeaders(
    koaHelmet.contentSecurityPolicy({
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        baseUri: ["'self'"],
        fontSrc: ["'self'", 'https:', 'data:'],
        frameAncestors: ["'none'"],
        imgSrc: ["'self'", 'data:', 'https:'],
        objectSrc: ["'none'"],
        scriptSrc: ["'self'", (_req, res) => `'nonce-${(res as ServerResponse & { locals: { cspNonce: string } }).locals.cspNonce}'`],
        scriptSrcAttr: ["'none'"],
        styleSrc: ["'self'"],
        ...(options.https ? { upgradeInsecureRequests: [] } : {}),
      },
    }),
    { cspNonce: marker },
  ).find(([name]) => name.toLowerCase() === 'content-security-policy')![1];
  const [before, after] = csp.split(marker) as [string, string];
  return { before, after };
}

/**
 * helmet's headers on every response, the provider's pages included (they are served through the
 * same app), plus our own CSP with a per-request nonce; HSTS only when the issuer is https.
 *
 * helmet's headers do not depend on the request, so they are computed once, by running helmet on
 * a recording response, and each request only sets them; the nonce comes from a pool of random
 * bytes refilled 256 nonces at a time.
 *
 * The JSON endpoints machines call at high rates (`apiPaths`, exact paths: token, introspection,
 * revocation, PAR, userinfo, JWKS, discovery, probes) get a short set instead: nothing there is
 * rendered by a browser, so the page-oriented headers (nonce CSP, COOP, CORP, X-Frame-Options,
 * Origin-Agent-Cluster, X-DNS-Prefetch-Control, X-Download-Options, …) only cost time and bytes on
 * every call. They keep `X-Content-Type-Options: nosniff`, a CSP that forbids everything (a response
 * opened in a browser by mistake runs nothing and cannot be framed), `Referrer-Policy` and, over
 * https, HSTS (RFC 6797 §7.1: on every response). `Cache-Control: no-store` on token, introspection
 * and userinfo answers is oidc-provider's own (RFC 6749 §5.1, RFC 7662 §2.2 by reference).
 */
export function securityHeaders(options: { https: boolean; apiPaths?: readonly string[] }): Middleware {
  const { before, after } = contentSecurityPolicy(options);
  const headers = recordHeaders(
    koaHelmet({
      contentSecurityPolicy: false,
      strictTransportSecurity: options.https ? { maxAge: 31_536_000, includeSubDomains: true } : false,
      referrerPolicy: { policy: 'no-referrer' },
      crossOriginEmbedderPolicy: false,
      // The same as frame-ancestors 'none', for browsers without CSP level 2.
      xFrameOptions: { action: 'deny' },
    }),
  );
  const api = new Set(options.apiPaths ?? JSON_API_PATHS);
  const apiHeaders: [string, string][] = [
    ['X-Content-Type-Options', 'nosniff'],
    ['Content-Security-Policy', API_CSP],
    ['Referrer-Policy', 'no-referrer'],
    ...headers.filter(([name]) => name.toLowerCase() === 'strict-transport-security'),
  ];
  return (ctx, next) => {
    if (api.has(ctx.path)) {
      for (const [name, value] of apiHeaders) ctx.set(name, value);
      return next();
    }
    const nonce = nextNonce();
    ctx.state.cspNonce = nonce;
    ctx.set('Content-Security-Policy', before + nonce + after);
    for (const [name, value] of headers) ctx.set(name, value);
    return next();
  };
}

/** oidc-provider's JSON endpoints (configuration.ts `routes`, discovery) and our probes. */
export const JSON_API_PATHS: readonly string[] = [
  '/token',
  '/token/introspection',
  '/token/revocation',
  '/request',
  '/me',
  '/jwks',
  '/.well-known/openid-configuration',
  '/healthz',
  '/readyz',
  '/metrics',
];

/** The CSP of JSON responses: nothing may load, run or frame them. */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'";

/**
 * The headers a request-independent koa-helmet middleware sets, recorded once on a stand-in
 * request (koa-helmet calls helmet on `ctx.req` / `ctx.res`).
 */
function recordHeaders(middleware: Middleware, locals: Record<string, string> = {}): [string, string][] {
  const recorded = new Map<string, string>();
  const res = {
    locals,
    setHeader(name: string, value: string | number | readonly string[]) {
      recorded.set(name, String(value));
      return res;
    },
    removeHeader(name: string) {
      recorded.delete(name);
    },
  };
  let failure: unknown;
  // helmet answers synchronously; koa-helmet resolves its promise right after, so `next` runs later.
  void (middleware as (ctx: unknown, next: () => Promise<void>) => Promise<void>)(
    { req: { headers: {}, method: 'GET', url: '/' }, res },
    async () => undefined,
  ).catch((error: unknown) => {
    failure = error;
  });
  if (failure) throw failure;
  if (recorded.size === 0) throw new Error('koa-helmet set no header synchronously');
  return [...recorded];
}

const NONCE_BYTES = 16; // 128 bits (CSP3 §7.1: at least 128 bits)
let pool = Buffer.alloc(0);
let offset = 0;

function nextNonce(): string {
  if (offset + NONCE_BYTES > pool.length) {
    pool = randomBytes(NONCE_BYTES * 256);
    offset = 0;
  }
  const nonce = pool.toString('base64', offset, offset + NONCE_BYTES);
  offset += NONCE_BYTES;
  return nonce;
}
