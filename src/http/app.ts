/**
 * The Koa app: the one place where middleware order and mounts are visible.
 *
 *   security headers → no-store for personal pages → error page → our routes → oidc-provider
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
import { errorPage } from './middleware/error-page.js';
import { securityHeaders } from './middleware/security-headers.js';
import { createPageRenderer, type PageRenderer, readAsset } from './pages.js';

export interface AppDeps {
  config: Config;
  logger: Logger;
  holder: ProviderHolder;
  pages?: PageRenderer;
  /** Readiness probe parts (Postgres, Redis); each throws when not ready. */
  checks?: Record<string, () => Promise<void>>;
}

export function createApp(deps: AppDeps): Koa {
  const { config, holder } = deps;
  const pages = deps.pages ?? createPageRenderer();
  const app = new Koa();
  app.silent = true; // errors are logged by errorPage and oidc-provider's server_error listener
  // koa-mount runs oidc-provider on this app's context, so its signed cookies use these keys.
  app.keys = [...config.secrets.cookieKeys];

  const router = new Router();
  router.get('/', (ctx) => {
    const locale = pages.localeOf(ctx.get('accept-language'));
    ctx.type = 'html';
    ctx.body = pages.render('home', locale, { issuer: config.issuer });
  });
  router.get('/assets/:file', (ctx) => {
    const file = ctx.params.file ?? '';
    if (!/^[a-z0-9-]+\.(css|svg|png)$/.test(file)) return;
    try {
      ctx.body = readAsset(file);
    } catch {
      return;
    }
    ctx.type = file.split('.').pop()!;
    ctx.set('Cache-Control', 'public, max-age=3600');
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

  // Placeholder until "Login with DingTalk" lands (issue #3): it shows the interaction exists and
  // lets the user go back, which answers the application with access_denied. No fake login.
  router.get('/interaction/:uid', async (ctx) => {
    const provider = holder.current();
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const locale = pages.localeOf(ctx.get('accept-language'));
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = pages.render('interaction', locale, { abortUrl: `/interaction/${details.uid}/abort` });
  });
  router.get('/interaction/:uid/abort', async (ctx) => {
    const provider = holder.current();
    await provider.interactionDetails(ctx.req, ctx.res);
    const redirectTo = await provider.interactionResult(
      ctx.req,
      ctx.res,
      { error: 'access_denied', error_description: 'End-User aborted interaction' },
      { mergeWithLastSubmission: false },
    );
    ctx.redirect(redirectTo);
  });

  app.use(securityHeaders({ https: new URL(config.issuer).protocol === 'https:' }));
  app.use(errorPage(pages, deps.logger));
  app.use(router.routes());
  app.use(router.allowedMethods());
  app.use(holder.middleware);
  return app;
}
