/**
 * `/metrics` on its own listener (METRICS_PORT): Prometheus scrapes the pods there, and the public
 * load balancer, which forwards only PORT, never reaches it. Nothing else is served there.
 */
import http from 'node:http';
import Koa from 'koa';
import type { Config } from '../config/schema.js';
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

/** `/metrics` on its own port (METRICS_PORT), off the public listener; undefined without one. */
export async function listenForMetrics(config: Config, metrics: Metrics): Promise<http.Server | undefined> {
  if (!config.metrics.enabled || config.metrics.port === undefined) return undefined;
  const handle = createMetricsApp(metrics, config.metrics.token).callback();
  const server = http.createServer((req, res) => void handle(req, res)); // never rejects, as in app/server.ts
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new Error(
          error.code === 'EADDRINUSE'
            ? `port ${config.metrics.port} is already in use (METRICS_PORT)`
            : `cannot listen on METRICS_PORT: ${error.message}`,
          { cause: error },
        ),
      ),
    );
    server.listen(config.metrics.port, config.host, () => resolve());
  });
  return server;
}
