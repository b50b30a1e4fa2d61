/**
 * The console's pages (server-rendered, views/admin/*). Reads are open to admins and auditors;
 * every change is a POST form with a CSRF token, refused to auditors, and ends in a redirect
 * (post/redirect/get) with a short "done" notice.
 */
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import { AppError } from '../errors/app-error.js';
import { errorText } from '../errors/messages.js';
import { csrfTokenFor, verifyCsrfWith } from '../ui/csrf.js';
import { adminMessages } from './messages.js';
import type { createAdminAuth } from './auth.js';
import { type AdminUser, consoleUser, type GuardDeps, requireWrite } from './guard.js';
import type { AdminRenderer } from './render.js';
import type { Actor } from './ops/actor.js';
import { auditFilterOf } from './ops/filters.js';
import type { AdminOps } from './ops/index.js';
import { pageOf, paginate } from './ops/paging.js';
import type { AdminSessionStore } from './session.js';
import { RULE_KINDS } from '../accounts/role-rules.js';
import { registerEventPages } from './console-events.js';
import { failedParam, registerMorePages } from './console-more.js';

export interface AdminConsoleDeps extends GuardDeps {
  service: AdminOps;
  sessions: AdminSessionStore;
  stillGranted?: (accountId: string) => Promise<boolean>;
  auth: ReturnType<typeof createAdminAuth>;
  render: AdminRenderer;
}

const ACCOUNT_ACTIONS = ['disable', 'enable', 'revoke', 'sync'] as const;

export function createAdminConsoleRouter(deps: AdminConsoleDeps): Router {
  const { service, render } = deps;
  const router = new Router({ prefix: '/admin' });
  const form = bodyParser({ enableTypes: ['form'], formLimit: '32kb' });

  const fields = (ctx: Context): Record<string, unknown> => {
    const value = (ctx.request as { body?: unknown }).body;
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  };
  const text = (value: unknown): string => (typeof value === 'string' ? value.trim() : '');

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
    verifyCsrfWith(ctx.state.adminCsrfSecret as string | undefined, fields(ctx)._csrf);
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
    render.page(ctx, 'dashboard', { title: a.navDashboard, section: 'dashboard', stats: await service.stats() });
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

  // Accounts
  router.get('/accounts', signedIn, async (ctx) => {
    const q = text(ctx.query.q);
    const status = text(ctx.query.status);
    const result = await service.searchAccounts({ q, status, ...pageOf(ctx.query) });
    render.page(ctx, 'accounts', {
      title: adminMessages(render.localeOf(ctx)).navAccounts,
      section: 'accounts',
      result,
      q,
      statusFilter: status,
    });
  });
  router.get('/accounts/:id', signedIn, async (ctx) => {
    const [detail, roles] = await Promise.all([service.accountDetail(ctx.params.id!), service.listRoles()]);
    render.page(ctx, 'account', {
      allRoles: roles.map((role) => role.name),
      title: detail.account.name,
      section: 'accounts',
      detail,
      done: [...ACCOUNT_ACTIONS, 'assign', 'unassign'].find((action) => action === ctx.query.done) ?? '',
    });
  });
  router.post('/accounts/:id/:action', signedIn, form, async (ctx) => {
    const action = ACCOUNT_ACTIONS.find((name) => name === ctx.params.action);
    if (!action) throw new AppError('not_found', 'no such action', { status: 404 });
    const actor = writer(ctx);
    const id = ctx.params.id!;
    const result =
      action === 'disable'
        ? await service.disableAccount(id, actor, text(fields(ctx).reason) || undefined)
        : action === 'enable'
          ? await service.enableAccount(id, actor)
          : action === 'revoke'
            ? await service.revokeAccount(id, actor)
            : await service.syncAccount(id, actor);
    const failed = 'backchannelFailed' in result ? result.backchannelFailed : 0;
    ctx.redirect(`/admin/accounts/${encodeURIComponent(result.accountId)}?done=${action}${failedParam(failed)}`);
  });

  // Role rules (before /roles/:name/…)
  router.post('/roles/rules/preview', signedIn, form, async (ctx) => {
    verifyCsrf(ctx);
    const input = ruleForm(fields(ctx));
    const matching = await service.previewRule(input);
    const { page, pageSize } = pageOf(ctx.query, 100);
    render.page(ctx, 'rule-preview', {
      title: adminMessages(render.localeOf(ctx)).rulePreviewTitle,
      section: 'roles',
      input: { ...input, role: text(fields(ctx).role), description: text(fields(ctx).description), rawValue: text(fields(ctx).value) },
      matching: paginate(matching, page, pageSize),
    });
  });
  router.post('/roles/rules', signedIn, form, async (ctx) => {
    const actor = writer(ctx);
    const body = fields(ctx);
    await service.addRule({ ...ruleForm(body), role: text(body.role), description: text(body.description) || null }, actor);
    ctx.redirect('/admin/roles?done=rule_added');
  });
  router.post('/roles/rules/:id/delete', signedIn, form, async (ctx) => {
    const actor = writer(ctx);
    const id = ctx.params.id ?? '';
    if (!/^\d{1,9}$/.test(id)) throw new AppError('roles.rule_not_found', `no rule #${id}`, { status: 404 });
    await service.removeRule(Number(id), actor);
    ctx.redirect('/admin/roles?done=rule_removed');
  });

  // Roles
  router.get('/roles', signedIn, async (ctx) => {
    const { page, pageSize } = pageOf(ctx.query, 50);
    const [roles, rules] = await Promise.all([service.listRoles(), service.listRules()]);
    render.page(ctx, 'roles', {
      title: adminMessages(render.localeOf(ctx)).navRoles,
      section: 'roles',
      roles: paginate(roles, page, pageSize),
      rules: paginate(rules, pageOf({ page: ctx.query.rulesPage }, 50).page, pageSize),
      allRoles: roles.map((role) => role.name),
      kinds: RULE_KINDS,
      done: typeof ctx.query.done === 'string' ? ctx.query.done : '',
    });
  });
  router.post('/roles', signedIn, form, async (ctx) => {
    const actor = writer(ctx);
    await service.createRole(text(fields(ctx).name), text(fields(ctx).description) || null, actor);
    ctx.redirect('/admin/roles?done=role_created');
  });
  router.post('/roles/assign', signedIn, form, async (ctx) => {
    const actor = writer(ctx);
    const change = await service.assignRole(text(fields(ctx).role), requiredAccount(fields(ctx).account), actor);
    ctx.redirect(`/admin/accounts/${encodeURIComponent(change.accountId)}?done=assign`);
  });
  router.post('/roles/:name/delete', signedIn, form, async (ctx) => {
    const actor = writer(ctx);
    await service.deleteRole(ctx.params.name!, actor);
    ctx.redirect('/admin/roles?done=role_removed');
  });
  router.post('/roles/:name/:action', signedIn, form, async (ctx) => {
    const action = ctx.params.action;
    if (action !== 'assign' && action !== 'unassign') throw new AppError('not_found', 'no such action', { status: 404 });
    const actor = writer(ctx);
    const account = requiredAccount(fields(ctx).account);
    const change =
      action === 'assign'
        ? await service.assignRole(ctx.params.name!, account, actor)
        : await service.unassignRole(ctx.params.name!, account, actor);
    const target = change?.accountId ?? (await service.accountDetail(account)).account.id;
    ctx.redirect(`/admin/accounts/${encodeURIComponent(target)}?done=${action}`);
  });

  // Audit
  router.get('/audit', signedIn, async (ctx) => {
    const filter = auditFilterOf(ctx.query);
    const { pageSize } = pageOf(ctx.query, 50);
    const result = await service.auditPage(filter, pageSize);
    const params = new URLSearchParams();
    for (const name of ['account', 'client', 'type', 'actor', 'from', 'to']) {
      const value = text(ctx.query[name]);
      if (value) params.set(name, value);
    }
    render.page(ctx, 'audit', {
      title: adminMessages(render.localeOf(ctx)).navAudit,
      section: 'audit',
      result,
      filters: Object.fromEntries(params),
      filterQuery: params.toString(),
      first: !filter.before,
    });
  });
  router.get('/audit.csv', signedIn, async (ctx) => {
    const csv = await service.auditCsv(auditFilterOf(ctx.query));
    ctx.type = 'text/csv; charset=utf-8';
    ctx.attachment('audit.csv');
    // A byte order mark, so that spreadsheet programs read the Chinese text as UTF-8.
    ctx.body = `\uFEFF${csv}`;
  });

  registerMorePages(router, { service, render, signedIn, form, writer, fields });
  registerEventPages(router, { service, render, signedIn, form, writer, fields });

  return router;
}

function requiredAccount(value: unknown): string {
  const account = typeof value === 'string' ? value.trim() : '';
  if (!account) throw new AppError('accounts.not_found', 'give an account id, userid or unionId', { status: 400 });
  return account;
}

/** The rule fields of a console form: the value is a comma- or line-separated list. */
function ruleForm(body: Record<string, unknown>): { kind: string; value?: unknown; includeSubDepartments?: boolean } {
  const kind = typeof body.kind === 'string' ? body.kind : '';
  const raw = typeof body.value === 'string' ? body.value : '';
  const values = raw
    .split(/[,，\n]/)
    .map((part) => part.trim())
    .filter((part) => part !== '');
  const value = kind === 'admin' || kind === 'boss' ? (values[0] ?? 'true') : values;
  return { kind, value, includeSubDepartments: body.includeSubDepartments === 'on' || body.includeSubDepartments === 'true' };
}

export type { AdminUser };
