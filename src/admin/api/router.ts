/**
 * The admin API (JSON under /admin/api): what the console does, for automation. Bearer JWT access
 * tokens of our own issuer for the admin resource server (bearer-guard.ts); errors are always
 * `{ code, message }` with 400/401/403/404/409, and anything unexpected a generic 500. One file
 * per resource beside this one, each calling the operations of ops/.
 */
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import { AppError } from '../../errors/app-error.js';
import type { Logger } from '../../log.js';
import type { AdminUser, GuardDeps } from '../guard.js';
import type { AdminOps } from '../ops/index.js';
import type { TokenVerifier } from '../verify.js';
import { registerAccountRoutes } from './accounts.js';
import { registerAuditRoutes } from './audit.js';
import { bearerGuard } from './bearer-guard.js';
import { registerClientRoutes } from './clients.js';
import { registerConsentRoutes } from './consents.js';
import { registerDingTalkHealthRoutes } from './dingtalk-health.js';
import { registerEventRoutes } from './events.js';
import { registerKeyRoutes } from './keys.js';
import { registerRoleRoutes } from './roles.js';
import { registerSessionRoutes } from './sessions.js';

export interface AdminApiDeps extends GuardDeps {
  ops: AdminOps;
  verifier: TokenVerifier;
  /** The admin resource server's identifier (`${issuer}/admin`). */
  audience: string;
  logger: Logger;
}

export function createAdminApiRouter(deps: AdminApiDeps): Router {
  const router = new Router({ prefix: '/admin/api' });
  const json = bodyParser({ enableTypes: ['json'], jsonLimit: '64kb', encoding: 'utf-8' });

  router.use(jsonErrors(deps.logger), bearerGuard(deps), json);

  router.get('/me', (ctx) => {
    const user = ctx.state.adminUser as AdminUser;
    ctx.body = { accountId: user.accountId, name: user.name, level: user.level, kind: user.kind ?? 'person' };
  });

  const routes = { router, ops: deps.ops };
  registerAccountRoutes(routes);
  registerRoleRoutes(routes);
  registerAuditRoutes(routes);
  registerClientRoutes(routes);
  registerSessionRoutes(routes);
  registerConsentRoutes(routes);
  registerKeyRoutes(routes);
  registerDingTalkHealthRoutes(routes);
  registerEventRoutes(routes);

  // Unknown paths and methods under /admin/api are JSON too.
  router.all('/{*rest}', () => {
    throw new AppError('admin.not_found', 'no such admin API endpoint', { status: 404 });
  });
  return router;
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
