import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, Middleware } from 'koa';
import type { Metrics } from '../../metrics.js';
import type { RequestObserver } from './request-id.js';
import { methodOf } from './route-label.js';

/**
 * Request duration by route template, method and status, and tokens issued by grant type (a 200
 * from oidc-provider's `token` route; its `grant_type` was accepted, so the label stays bounded).
 * Called by the request-id middleware when a request is done: one histogram observation each.
 */
export function httpObserver(metrics: Metrics): RequestObserver {
  return (ctx, { route, status, seconds }) => {
    metrics.httpDuration.observe({ method: methodOf(ctx), route, status: String(status) }, seconds);
    if (route === 'token' && status === 200) {
      const grantType = (ctx as Context & { oidc?: { params?: { grant_type?: unknown } } }).oidc?.params?.grant_type;
      if (typeof grantType === 'string') metrics.tokensIssued.inc({ grant_type: grantType });
    }
  };
}

/**
 * `GET /metrics` in Prometheus text format. With a token (METRICS_TOKEN), only for
 * `Authorization: Bearer <token>` (compared in constant time); without one, for anyone who can
 * reach it — keep it off the public load balancer then.
 */
export function metricsEndpoint(metrics: Metrics, token: string | undefined): Middleware {
  const expected = token === undefined ? undefined : digest(token);
  return async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    if (expected) {
      const presented = /^Bearer\s+(\S+)$/i.exec(ctx.get('authorization'))?.[1];
      if (presented === undefined || !timingSafeEqual(digest(presented), expected)) {
        ctx.status = 401;
        ctx.set('WWW-Authenticate', 'Bearer realm="metrics"');
        ctx.body = { error: 'invalid_token' };
        return;
      }
    }
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
