import type { Middleware } from 'koa';
import { under } from './route-label.js';

/**
 * `Cache-Control: no-store` on everything under the given paths: pages there show who is signed
 * in, consents, tokens (the demo) or admin data, and must not be kept by browsers or proxies. Set
 * before the route runs, so a route that knows better may still override it.
 */
export function noCache(paths: readonly string[]): Middleware {
  const matches = under(paths);
  return (ctx, next) => {
    if (matches(ctx.path)) {
      ctx.set('Cache-Control', 'no-store');
      ctx.set('Pragma', 'no-cache');
    }
    return next();
  };
}
