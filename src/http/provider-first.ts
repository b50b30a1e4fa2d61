import type Koa from 'koa';

/**
 * Hands oidc-provider's JSON endpoints (exact paths: token, introspection, revocation, PAR,
 * userinfo) straight to the provider, skipping what only our pages need (CSRF tokens, our router,
 * the interaction routes), none of which ever answers these paths. Mounted after the security
 * headers, the error page and the rate limits, which still apply.
 */
export function providerFirst(paths: readonly string[], provider: Koa.Middleware): Koa.Middleware {
  const exact = new Set(paths);
  return (ctx, next) => (exact.has(ctx.path) ? (provider(ctx, next) as Promise<void>) : next());
}
