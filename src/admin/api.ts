/**
 * The admin API (JSON under /admin/api): what the console does, for automation. Bearer JWT access
 * tokens of our own issuer for the admin resource server (guard.ts); errors are always
 * `{ code, message }` with 400/401/403/404/409, and anything unexpected a generic 500.
 */
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import { AppError } from '../errors/app-error.js';
import type { Logger } from '../log.js';
import { bearerGuard, type GuardDeps, requireWrite, type AdminUser } from './guard.js';
import { type Actor, type AdminService, auditFilterOf, pageOf, paginate } from './service.js';
import type { TokenVerifier } from './verify.js';

export interface AdminApiDeps extends GuardDeps {
  service: AdminService;
  verifier: TokenVerifier;
  /** The admin resource server's identifier (`${issuer}/admin`). */
  audience: string;
  logger: Logger;
}

export function createAdminApiRouter(deps: AdminApiDeps): Router {
  const { service } = deps;
  const router = new Router({ prefix: '/admin/api' });
  const json = bodyParser({ enableTypes: ['json'], jsonLimit: '64kb', encoding: 'utf-8' });

  router.use(jsonErrors(deps.logger), bearerGuard(deps), json);

  const actorOf = (ctx: Context): Actor => {
    const user = requireWrite(ctx);
    return { accountId: user.accountId, via: 'api', ip: ctx.ip, ...(user.clientId ? { clientId: user.clientId } : {}) };
  };
  const body = (ctx: Context): Record<string, unknown> => {
    const value = (ctx.request as { body?: unknown }).body;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  };
  const str = (value: unknown, field: string, required = true): string | undefined => {
    if (value === undefined || value === null || value === '') {
      if (required) throw new AppError('admin.invalid_request', `${field} is required`, { status: 400 });
      return undefined;
    }
    if (typeof value !== 'string' || value.length > 512) throw new AppError('admin.invalid_request', `${field} is a string`, { status: 400 });
    return value;
  };

  router.get('/me', (ctx) => {
    const user = ctx.state.adminUser as AdminUser;
    ctx.body = { accountId: user.accountId, name: user.name, level: user.level };
  });

  // Accounts
  router.get('/accounts', async (ctx) => {
    const q = typeof ctx.query.q === 'string' ? ctx.query.q : undefined;
    const status = typeof ctx.query.status === 'string' ? ctx.query.status : undefined;
    ctx.body = await service.searchAccounts({ ...(q ? { q } : {}), ...(status ? { status } : {}), ...pageOf(ctx.query) });
  });
  router.get('/accounts/:id', async (ctx) => {
    ctx.body = await service.accountDetail(ctx.params.id!);
  });
  router.post('/accounts/:id/disable', async (ctx) => {
    ctx.body = await service.disableAccount(ctx.params.id!, actorOf(ctx), str(body(ctx).reason, 'reason', false));
  });
  router.post('/accounts/:id/enable', async (ctx) => {
    ctx.body = await service.enableAccount(ctx.params.id!, actorOf(ctx));
  });
  router.post('/accounts/:id/revoke', async (ctx) => {
    ctx.body = await service.revokeAccount(ctx.params.id!, actorOf(ctx));
  });
  router.post('/accounts/:id/sync', async (ctx) => {
    ctx.body = await service.syncAccount(ctx.params.id!, actorOf(ctx));
  });

  // Role rules (before /roles/:name, which would otherwise take "rules" as a role name)
  router.get('/roles/rules', async (ctx) => {
    const { page, pageSize } = pageOf(ctx.query, 100);
    ctx.body = paginate(await service.listRules(), page, pageSize);
  });
  router.post('/roles/rules/preview', async (ctx) => {
    const input = ruleInput(body(ctx));
    const accounts = await service.previewRule(input);
    const { page, pageSize } = pageOf(ctx.query, 100);
    ctx.body = paginate(accounts, page, pageSize);
  });
  router.post('/roles/rules', async (ctx) => {
    const input = body(ctx);
    const actor = actorOf(ctx);
    const { rule, changes } = await service.addRule(
      { ...ruleInput(input), role: str(input.role, 'role')!, description: str(input.description, 'description', false) ?? null },
      actor,
    );
    ctx.status = 201;
    ctx.body = { rule, changes };
  });
  router.delete('/roles/rules/:id', async (ctx) => {
    const id = ctx.params.id ?? '';
    if (!/^\d{1,9}$/.test(id)) throw new AppError('roles.rule_not_found', `no rule #${id}`, { status: 404 });
    ctx.body = await service.removeRule(Number(id), actorOf(ctx));
  });

  // Roles
  router.get('/roles', async (ctx) => {
    const { page, pageSize } = pageOf(ctx.query, 100);
    ctx.body = paginate(await service.listRoles(), page, pageSize);
  });
  router.post('/roles', async (ctx) => {
    const input = body(ctx);
    const actor = actorOf(ctx);
    ctx.status = 201;
    ctx.body = await service.createRole(str(input.name, 'name')!, str(input.description, 'description', false) ?? null, actor);
  });
  router.delete('/roles/:name', async (ctx) => {
    ctx.body = await service.deleteRole(ctx.params.name!, actorOf(ctx));
  });
  router.post('/roles/:name/assign', async (ctx) => {
    const actor = actorOf(ctx);
    ctx.body = await service.assignRole(ctx.params.name!, str(body(ctx).account, 'account')!, actor);
  });
  router.post('/roles/:name/unassign', async (ctx) => {
    const actor = actorOf(ctx);
    const change = await service.unassignRole(ctx.params.name!, str(body(ctx).account, 'account')!, actor);
    ctx.body = change ?? { unassigned: false };
  });

  // Audit
  router.get('/audit', async (ctx) => {
    const { pageSize } = pageOf(ctx.query, 50);
    ctx.body = await service.auditPage(auditFilterOf(ctx.query), pageSize);
  });
  router.get('/audit.csv', async (ctx) => {
    const csv = await service.auditCsv(auditFilterOf(ctx.query));
    ctx.type = 'text/csv; charset=utf-8';
    ctx.attachment('audit.csv');
    ctx.body = csv;
  });

  // Unknown paths and methods under /admin/api are JSON too.
  router.all('/{*rest}', () => {
    throw new AppError('admin.not_found', 'no such admin API endpoint', { status: 404 });
  });
  return router;
}

/** Rule fields as the role service takes them; `value` may be one value or a list. */
export function ruleInput(input: Record<string, unknown>): { kind: string; value?: unknown; includeSubDepartments?: boolean } {
  if (typeof input.kind !== 'string') throw new AppError('roles.invalid_rule', 'kind is required', { status: 400 });
  if (input.includeSubDepartments !== undefined && typeof input.includeSubDepartments !== 'boolean') {
    throw new AppError('roles.invalid_rule', 'includeSubDepartments is true or false', { status: 400 });
  }
  return {
    kind: input.kind,
    ...(input.value === undefined ? {} : { value: input.value }),
    ...(input.includeSubDepartments === undefined ? {} : { includeSubDepartments: input.includeSubDepartments }),
  };
}

/** `{ code, message }` for every failure; 401 carries a Bearer challenge (RFC 6750 §3). */
function jsonErrors(logger: Logger) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
    } catch (error) {
      const known = error instanceof AppError;
      const status = known ? error.status : Number((error as { status?: unknown }).status) || 500;
      const safe = status >= 400 && status < 600 ? status : 500;
      let code: string;
      let message: string;
      if (known && error.expose) {
        code = error.code;
        message = error.message;
      } else if (!known && safe < 500) {
        code = 'admin.invalid_request';
        message = 'the request is malformed';
      } else {
        code = 'server_error';
        message = 'the request could not be completed';
      }
      if (safe >= 500) logger.error({ err: error, path: ctx.path }, 'admin API request failed');
      else logger.info({ code, path: ctx.path }, 'admin API request rejected');
      if (safe === 401) {
        const detail = ctx.get('authorization') ? ', error="invalid_token"' : '';
        ctx.set('WWW-Authenticate', `Bearer realm="admin"${detail}`);
      }
      ctx.set('Cache-Control', 'no-store');
      ctx.status = safe;
      ctx.body = { code, message };
    }
  };
}
