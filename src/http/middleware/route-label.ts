import type { Context } from 'koa';

/**
 * A bounded name for the route that answered: oidc-provider's route name (`token`,
 * `introspection`, `authorization`, …, which its router puts in `_matchedRouteName`), else the
 * @koa/router path template (`/interaction/:uid`), else `unmatched`. Never the raw path, which
 * holds ids and is chosen by the client.
 */
export function routeOf(ctx: Context): string {
  const matched = ctx as Context & { _matchedRouteName?: string; _matchedRoute?: string | RegExp };
  if (matched._matchedRouteName) return matched._matchedRouteName;
  if (matched._matchedRoute !== undefined) return String(matched._matchedRoute);
  return 'unmatched';
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** The method, or `OTHER` for the rarer ones Node accepts (bounded label values). */
export function methodOf(ctx: Context): string {
  return METHODS.has(ctx.method) ? ctx.method : 'OTHER';
}

/** A test for "one of these paths, or below one of them". */
export function under(paths: readonly string[]): (path: string) => boolean {
  const prefixes = paths.map((path) => `${path}/`);
  return (path) => paths.includes(path) || prefixes.some((prefix) => path.startsWith(prefix));
}
