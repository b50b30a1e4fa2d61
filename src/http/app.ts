/**
 * The Koa app: the one place where middleware order and mounts are visible.
 *
 *   (emulator) → security headers → error page → CSRF tokens → our routes → oidc-provider
 *
 * oidc-provider is mounted last and sees requests our routes did not answer. Body parsers are
 * never put in front of it (it reads its own bodies). All middleware is added before the app is
 * turned into a request handler: koa-compose copies the list at that moment.
 */
import Router from '@koa/router';
import Koa from 'koa';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { ProviderHolder } from '../oidc/provider.js';
import { csrfTokens } from '../ui/csrf.js';
import { errorPage } from './middleware/error-page.js';
import { securityHeaders } from './middleware/security-headers.js';
import { createPageRenderer, type PageRenderer, readAsset } from '../ui/pages.js';

export interface AppDeps {
  config: Config;
  logger: Logger;
  holder: ProviderHolder;
  pages?: PageRenderer;
  /** Readiness probe parts (Postgres, Redis); each throws when not ready. */
  checks?: Record<string, () => Promise<void>>;
  /** Our own routes (interactions, demo), mounted after the security middleware. */
  routes?: Koa.Middleware[];
  /** Mounted before everything else: the development DingTalk emulator, which is its own "site". */
  standalone?: Koa.Middleware[];
}

export function createApp(deps: AppDeps): Koa {
  const { config, holder } = deps;
  const pages = deps.pages ?? createPageRenderer();
  const app = new Koa({ proxy: config.trustProxy });
  app.silent = true; // errors are logged by errorPage and oidc-provider's server_error listener
  // koa-mount runs oidc-provider on this app's context, so its signed cookies use these keys.
  app.keys = [...config.secrets.cookieKeys];

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
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    const results = await Promise.all(
      Object.entries(deps.checks ?? {}).map(async ([name, check]) => {
        try {
          await check();
          return [name, 'ok'] as const;
        } catch {
          return [name, 'failing'] as const;
        }
      }),
    );
    const ready = results.every(([, state]) => state === 'ok');
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ok' : 'failing', checks: Object.fromEntries(results) };
  });

  for (const middleware of deps.standalone ?? []) app.use(middleware);
  app.use(securityHeaders({ https: new URL(config.issuer).protocol === 'https:' }));
  app.use(errorPage(pages, deps.logger));
  app.use(csrfTokens());
  app.use(router.routes());
  for (const middleware of deps.routes ?? []) app.use(middleware);
  app.use(router.allowedMethods());
  app.use(holder.middleware);
  return app;
}
