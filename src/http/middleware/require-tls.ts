import type { Middleware } from 'koa';
import type { Logger } from '../../log.js';

/**
 * With an https issuer, a request that did not come through TLS is never served: behind a proxy
 * that does not send `X-Forwarded-Proto: https` (or without TRUST_PROXY), oidc-provider would list
 * http:// endpoints under an https issuer and set SameSite=None cookies without Secure, which
 * browsers drop, so logins fail in ways hard to trace. A GET or HEAD that the proxy says came over
 * plain http (`X-Forwarded-Proto: http`: the person typed an http URL) is redirected to the same
 * path under the issuer (308). Anything else is refused (400 JSON naming the fix, nothing read or
 * set): without the header a redirect would come straight back through the same mis-set proxy,
 * looping until the browser gives up. The first such request is logged with the fix. The probes (`/healthz`, `/readyz`, `/metrics`) are exempt:
 * orchestrators call them on the pod directly, over plain HTTP.
 */
export function requireTls(options: { issuer: string; logger: Logger; exempt?: readonly string[] }): Middleware {
  const issuer = new URL(options.issuer);
  const exempt = new Set(options.exempt ?? ['/healthz', '/readyz', '/metrics']);
  let warned = false;
  return async (ctx, next) => {
    if (ctx.secure || exempt.has(ctx.path)) {
      await next();
      return;
    }
    if (!warned) {
      warned = true;
      options.logger.warn(
        { path: ctx.path, forwardedProto: ctx.get('x-forwarded-proto') || null },
        'a request reached the server without TLS while ISSUER is https: make the TLS proxy send X-Forwarded-Proto: https and set TRUST_PROXY=true; such requests are redirected to https or refused',
      );
    }
    ctx.set('Cache-Control', 'no-store');
    const forwarded = ctx.get('x-forwarded-proto').split(',')[0]?.trim().toLowerCase();
    if ((ctx.method === 'GET' || ctx.method === 'HEAD') && forwarded === 'http') {
      const base = issuer.pathname.replace(/\/$/, '');
      const path = base && ctx.path.startsWith(`${base}/`) ? ctx.path : `${base}${ctx.path}`;
      ctx.status = 308;
      ctx.redirect(`${issuer.origin}${path}${ctx.search}`);
      return;
    }
    ctx.status = 400;
    ctx.body = {
      error: 'invalid_request',
      error_description:
        forwarded === 'http'
          ? 'this issuer is served over https only'
          : 'this issuer is served over https only, and the request did not say it came through TLS: the TLS proxy must send X-Forwarded-Proto: https (and the server needs TRUST_PROXY=true)',
    };
  };
}
