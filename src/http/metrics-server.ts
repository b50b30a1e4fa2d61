/**
 * `/metrics` on its own listener (METRICS_PORT): Prometheus scrapes the pods there, and the public
 * load balancer, which forwards only PORT, never reaches it. Nothing else is served there.
 */
import Koa from 'koa';
import type { Metrics } from '../metrics.js';
import { metricsEndpoint } from './middleware/metrics.js';

export function createMetricsApp(metrics: Metrics, token: string | undefined): Koa {
  const app = new Koa();
  app.silent = true;
  const endpoint = metricsEndpoint(metrics, token);
  app.use(async (ctx, next) => {
    ctx.set('X-Content-Type-Options', 'nosniff');
    if (ctx.path === '/metrics' && (ctx.method === 'GET' || ctx.method === 'HEAD')) {
      await endpoint(ctx, next);
      return;
    }
    ctx.status = 404;
    ctx.body = { error: 'not_found' };
  });
  return app;
}
