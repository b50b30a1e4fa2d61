import type { Context, Next } from 'koa';
import { errors as joseErrors } from 'jose';
import { ADMIN_SCOPES } from '../ops/admin-client.js';
import { adminOf, type AdminUser, forbidden, type GuardDeps, levelOf, lower, unauthorized } from '../guard.js';
import type { TokenVerifier } from '../verify.js';

/** API POSTs that change nothing. */
const READ_ONLY_POSTS = new Set(['/admin/api/roles/rules/preview']);

/**
 * Admin API: a JWT access token (RFC 9068) from our issuer for the admin resource server, with
 * `admin:read` (reads) or `admin:write` (writes), whose `roles` claim and current roles both give
 * admin or auditor. The token is a person's (authorization code) or a service account's: a
 * client_credentials token (`sub` is the client's id, RFC 9068 §2.2) of a client whose
 * `service_roles` hold `admin` or `auditor`, now as when the token was issued.
 */
export function bearerGuard(deps: GuardDeps & { verifier: TokenVerifier; audience: string }) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const header = ctx.get('authorization');
    const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/i.exec(header);
    if (!match) throw unauthorized();
    let payload;
    try {
      payload = await deps.verifier.verify(match[1]!, { audience: deps.audience, typ: 'at+jwt' });
    } catch (error) {
      if (error instanceof joseErrors.JOSEError || error instanceof TypeError) throw unauthorized('the access token is invalid or expired');
      throw error;
    }
    // A sender-constrained token (RFC 9449 DPoP `cnf.jkt`, RFC 8705 `cnf.x5t#S256`) is worth something
    // only with a proof of its key, which the admin API does not check: refused as a plain bearer
    // token (RFC 9449 §7.1), so a stolen DPoP-bound token stays useless here too.
    if (payload.cnf !== undefined) {
      throw unauthorized('this access token is bound to a key (DPoP): the admin API takes only bearer tokens, ask for one without DPoP');
    }
    if (typeof payload.sub !== 'string') throw forbidden('the token names no subject');
    const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ') : [];
    // A POST that only reads (the rule preview) needs no write scope.
    const write = !['GET', 'HEAD'].includes(ctx.method) && !READ_ONLY_POSTS.has(ctx.path);
    const scopeOk = write ? scopes.includes(ADMIN_SCOPES.write) : scopes.includes(ADMIN_SCOPES.read) || scopes.includes(ADMIN_SCOPES.write);
    if (!scopeOk) throw forbidden(`the token lacks the ${write ? ADMIN_SCOPES.write : ADMIN_SCOPES.read} scope`);
    const claimed = levelOf(Array.isArray(payload.roles) ? payload.roles : []);
    const clientId = typeof payload.client_id === 'string' ? payload.client_id : undefined;
    if (clientId !== undefined && payload.sub === clientId) {
      // A service account: the client must still exist, be enabled and hold the role.
      const client = await deps.findClient?.(clientId);
      const level = lower(claimed, client ? levelOf(client.serviceRoles) : undefined);
      if (!client || !level) throw forbidden('the client’s service roles do not include admin or auditor');
      ctx.state.adminUser = { accountId: `client:${clientId}`, name: client.name, level, clientId, kind: 'client' } satisfies AdminUser;
      await next();
      return;
    }
    const current = await adminOf(deps, payload.sub);
    const level = lower(claimed, current?.level);
    if (!current || !level) throw forbidden();
    const user: AdminUser = {
      accountId: payload.sub,
      name: current.name,
      level,
      kind: 'person',
      ...(clientId ? { clientId } : {}),
    };
    ctx.state.adminUser = user;
    await next();
  };
}
