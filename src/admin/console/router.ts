/**
 * The console's pages (server-rendered, views/admin/*). Reads are open to admins and auditors;
 * every change is a POST form with a CSRF token, refused to auditors, and ends in a redirect
 * (post/redirect/get) with a short "done" notice. This file signs the admin in and holds the
 * landing page and dashboard; one file per resource beside it registers that resource's pages.
 */
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import { AppError } from '../../errors/app-error.js';
import { errorText } from '../../errors/messages.js';
import { csrfTokenFor, verifyCsrfWith } from '../../ui/csrf.js';
import { type AdminUser, type GuardDeps, requireWrite } from '../guard.js';
import type { Actor } from '../ops/actor.js';
import type { AdminOps } from '../ops/index.js';
import { registerAccountPages } from './accounts.js';
import { registerAuditPages } from './audit.js';
import { registerClientPages } from './clients.js';
import { consoleUser } from './console-user.js';
import { type ConsolePages, fieldsOf } from './context.js';
import { registerDingTalkHealthPage } from './dingtalk-health.js';
import { registerEventPages } from './events.js';
import { registerKeyPages } from './keys.js';
import type { ConsoleSessionStore } from '../../store/console-sessions.js';
import { adminMessages } from './messages.js';
import { registerPreviewPages } from './previews.js';
import type { AdminRenderer } from './render.js';
import { registerRolePages } from './roles.js';
import { registerSessionPages } from './sessions.js';
import type { createAdminAuth } from './sign-in.js';

export interface AdminConsoleDeps extends GuardDeps {
  ops: AdminOps;
  sessions: ConsoleSessionStore;
  stillGranted?: (accountId: string) => Promise<boolean>;
  auth: ReturnType<typeof createAdminAuth>;
  render: AdminRenderer;
}

export function createAdminConsoleRouter(deps: AdminConsoleDeps): Router {
  const { ops, render } = deps;
  const router = new Router({ prefix: '/admin' });
  const form = bodyParser({ enableTypes: ['form'], formLimit: '32kb' });

  /** Readable failures of our own checks (bad rule, unknown account, CSRF, auditor) on the console page. */
  async function consoleErrors(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
    } catch (error) {
      if (!(error instanceof AppError) || !error.expose || error.status >= 500) throw error;
      const locale = render.localeOf(ctx);
      const message = error.code === 'csrf.invalid' ? errorText(locale, error.code) : error.message;
      render.page(ctx, 'error', { title: adminMessages(locale).errorTitle, message, code: error.code, status: error.status });
    }
  }

  /** Signed in with an admin role, or: not signed in → login; signed in without a role → 403 page. */
  async function signedIn(ctx: Context, next: Next): Promise<void> {
    const { user, signedIn: hasSession, csrfSecret } = await consoleUser(deps, ctx);
    if (!user) {
      if (hasSession) {
        render.page(ctx, 'forbidden', { title: adminMessages(render.localeOf(ctx)).forbiddenTitle, status: 403 });
        return;
      }
      if (ctx.method === 'GET') {
        ctx.redirect(`/admin/login?returnTo=${encodeURIComponent(ctx.originalUrl)}`);
        return;
      }
      throw new AppError('admin.unauthorized', 'sign in to the admin console first', { status: 401 });
    }
    signIn(ctx, user, csrfSecret);
    await next();
  }

  /** The signed-in admin, and form tokens bound to this console session (not to a browser cookie). */
  function signIn(ctx: Context, user: AdminUser, csrfSecret: string | undefined): void {
    ctx.state.adminUser = user;
    ctx.state.adminCsrfSecret = csrfSecret;
    ctx.state.csrfToken = () => (csrfSecret ? csrfTokenFor(csrfSecret) : '');
  }

  /** Throws 403 `csrf.invalid` unless the form's token was made for this console session. */
  function verifyCsrf(ctx: Context): void {
    verifyCsrfWith(ctx.state.adminCsrfSecret as string | undefined, fieldsOf(ctx)._csrf);
  }

  /** A POST form: CSRF token checked, auditors refused; returns who acts. */
  function writer(ctx: Context): Actor {
    verifyCsrf(ctx);
    const user = requireWrite(ctx);
    return { accountId: user.accountId, via: 'console', ip: ctx.ip };
  }

  router.use(consoleErrors);

  // Sign-in, callback, sign-out (the landing page works without a session).
  router.get('/', async (ctx) => {
    const { user, signedIn: hasSession, csrfSecret } = await consoleUser(deps, ctx);
    const a = adminMessages(render.localeOf(ctx));
    if (!user) {
      if (hasSession) render.page(ctx, 'forbidden', { title: a.forbiddenTitle, status: 403 });
      else render.page(ctx, 'landing', { title: a.consoleName });
      return;
    }
    signIn(ctx, user, csrfSecret);
    render.page(ctx, 'dashboard', { title: a.navDashboard, section: 'dashboard', stats: await ops.stats() });
  });
  router.get('/login', (ctx) => deps.auth.login(ctx));
  router.get('/callback', (ctx) => deps.auth.callback(ctx));
  router.post('/logout', form, async (ctx) => {
    const { user, csrfSecret } = await consoleUser(deps, ctx);
    if (user) {
      signIn(ctx, user, csrfSecret);
      verifyCsrf(ctx);
    }
    await deps.auth.logout(ctx);
  });

  const pages: ConsolePages = { router, ops, render, signedIn, form, writer, verifyCsrf };
  registerAccountPages(pages);
  registerRolePages(pages);
  registerAuditPages(pages);
  registerClientPages(pages);
  registerSessionPages(pages);
  registerKeyPages(pages);
  registerDingTalkHealthPage(pages);
  registerPreviewPages(pages);
  registerEventPages(pages);

  return router;
}
