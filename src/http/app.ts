/**
 * The Koa app: the one place where middleware order and mounts are visible.
 *
 *   discovery/JWKS from memory → request id (+ access log, metrics) → (emulator) → security
 *   headers (CSP nonce; short ones on JSON endpoints) → no-store → error page → rate limits
 *   → oidc-provider's JSON endpoints directly → CSRF tokens → home, assets, probes, /metrics
 *   → our routes (DingTalk events, interactions, admin, demo) → oidc-provider
 *
 * - Discovery and JWKS come first: read by every relying party and resource server, often, and
 *   unchanged between key rotations (well-known.ts; the HTTP listener answers them from memory
 *   before Koa, app/server.ts); they get no request id or access line.
 * - The request id comes first, so every later log line (ours, oidc-provider listeners', the
 *   DingTalk client's) carries it; its access line and metrics measure everything after it.
 * - Rate limits sit after the security headers and the error page (a 429 page gets its CSP) and in
 *   front of everything that costs: CSRF, our routes, oidc-provider.
 * - oidc-provider is mounted last and sees requests our routes did not answer. Body parsers are
 *   never put in front of it (it reads its own bodies; the rate limits read only headers before it).
 *
 * All middleware is added before the app is turned into a request handler: koa-compose copies the
 * list at that moment.
 */
import Router from '@koa/router';
import Koa from 'koa';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { createMetrics, type Metrics } from '../metrics.js';
import type { ProviderHolder } from '../oidc/provider.js';
import type { SharedLimiters } from '../store/rate-limiters.js';
import { csrfTokens } from '../ui/csrf.js';
import { browserKey } from '../interactions/browser.js';
import { createPageRenderer, type PageRenderer, readAsset } from '../ui/pages.js';
import { liveness, type ReadinessCheck, readiness } from './health.js';
import { errorPage } from './middleware/error-page.js';
import { httpObserver, metricsEndpoint } from './middleware/metrics.js';
import { noCache } from './middleware/no-cache.js';
import { createRateLimits } from './middleware/rate-limit.js';
import { requestId } from './middleware/request-id.js';
import { requireTls } from './middleware/require-tls.js';
import { securityHeaders } from './middleware/security-headers.js';
import { providerFirst } from './provider-first.js';
import type { WellKnownDocuments } from './well-known.js';

export interface AppDeps {
  config: Config;
  logger: Logger;
  holder: ProviderHolder;
  pages?: PageRenderer;
  /** Readiness probe parts (Postgres, Redis, migrations); each throws when not ready. */
  checks?: Record<string, ReadinessCheck>;
  /** Discovery and the JWKS from memory (well-known.ts): its `answer` is the listener's, its middleware comes first here. */
  wellKnown: WellKnownDocuments;
  /** Our own routes (DingTalk events, interactions, admin console and API, demo), mounted after the security middleware. */
  routes?: Koa.Middleware[];
  /**
   * Mounted right after the request id, before the security headers: the development DingTalk
   * emulator, which is its own "site".
   */
  standalone?: Koa.Middleware[];
  /** The registry /metrics serves (shared with the DingTalk client, audit log, …); default: a new one. */
  metrics?: Metrics;
  /** Where the rate-limit counters replicas share are kept (Redis or memory: store/index.ts). */
  rateLimiters: SharedLimiters;
}

/** oidc-provider endpoints where clients authenticate (configuration.ts `routes`). */
const TOKEN_ENDPOINTS = ['/token', '/token/introspection', '/token/revocation', '/request'];

export function createApp(deps: AppDeps): Koa {
  const { config, holder, logger } = deps;
  const pages = deps.pages ?? createPageRenderer();
  const metrics = deps.metrics ?? createMetrics();
  // Behind a proxy, the client address is the last X-Forwarded-For entry (the one our proxy added):
  // earlier entries are whatever the client sent, and per-IP limits must not trust them.
  const app = new Koa({ proxy: config.trustProxy, maxIpsCount: 1 });
  app.silent = true; // errors are logged by errorPage and oidc-provider's server_error listener
  // koa-mount runs oidc-provider on this app's context, so its signed cookies use these keys.
  app.keys = [...config.secrets.cookieKeys];
  const limits = createRateLimits({ settings: config.rateLimits, shared: deps.rateLimiters, pages, logger, metrics });

  const router = new Router();
  router.get('/', (ctx) => {
    const locale = pages.localeOf(ctx.get('accept-language'));
    ctx.type = 'html';
    ctx.body = pages.render('home', locale, { issuer: config.issuer, demo: config.demoClient });
  });
  router.get('/assets/:file', (ctx) => {
    const file = ctx.params.file ?? '';
    if (!/^[a-z0-9-]+\.(css|js|svg|png)$/.test(file)) return;
    try {
      ctx.body = readAsset(file);
    } catch {
      return;
    }
    ctx.type = file.split('.').pop()!;
    ctx.set('Cache-Control', 'public, max-age=3600');
  });
  router.get('/favicon.ico', (ctx) => {
    ctx.redirect('/assets/favicon.svg');
  });
  router.get('/healthz', liveness);
  router.get('/readyz', readiness(deps.checks ?? {}, logger, { cacheMs: config.readinessCacheMs }));
  // With METRICS_PORT, /metrics lives on its own listener only (http/metrics-server.ts, app/server.ts).
  if (config.metrics.enabled && config.metrics.port === undefined) router.get('/metrics', metricsEndpoint(metrics, config.metrics.token));

  // An https issuer reached without TLS (a proxy not sending X-Forwarded-Proto): redirect or refuse.
  if (new URL(config.issuer).protocol === 'https:') app.use(requireTls({ issuer: config.issuer, logger }));
  // Discovery and JWKS from memory, before anything else (well-known.ts).
  app.use(deps.wellKnown.middleware);
  app.use(
    requestId({
      header: config.requestIdHeader,
      logger,
      ...(config.metrics.enabled ? { observe: httpObserver(metrics) } : {}),
    }),
  );
  for (const middleware of deps.standalone ?? []) app.use(middleware);
  app.use(securityHeaders({ https: new URL(config.issuer).protocol === 'https:' }));
  app.use(noCache(['/interaction', '/dingtalk', '/demo', '/admin']));
  app.use(errorPage(pages, logger));
  app.use(limits.tokenEndpoints(TOKEN_ENDPOINTS));
  // Per browser (a NAT'd office is many browsers), under one ceiling per address.
  app.use(limits.perBrowser('browser', ['/auth', '/interaction', '/session/end'], browserKey));
  app.use(limits.perBrowser('dingtalkCallback', ['/dingtalk/callback'], browserKey));
  app.use(limits.perIp('dingtalkEvents', ['/dingtalk/events']));
  app.use(limits.perIp('adminLogin', ['/admin/login']));
  app.use(providerFirst([...TOKEN_ENDPOINTS, '/me'], holder.middleware));
  app.use(csrfTokens());
  app.use(router.routes());
  for (const middleware of deps.routes ?? []) app.use(middleware);
  app.use(router.allowedMethods());
  app.use(holder.middleware);
  return app;
}
