/**
 * Who may use the console and the admin API. The `admin` role reads and writes; `auditor` only
 * reads (every write answers 403). Roles are read from the database at every request, so taking a
 * role away takes effect at once, even for an API token that still claims it.
 */
import type { Context, Next } from 'koa';
import { errors as joseErrors } from 'jose';
import type { RoleService } from '../accounts/roles.js';
import type { Models } from '../db/models/index.js';
import { AppError } from '../errors/app-error.js';
import type { AdminSessionStore } from './session.js';
import { ADMIN_SCOPES } from './ops/admin-client.js';
import type { TokenVerifier } from './verify.js';

export type AdminLevel = 'admin' | 'auditor';

/** The signed-in admin, in `ctx.state.adminUser`. */
export interface AdminUser {
  accountId: string;
  name: string;
  level: AdminLevel;
  /** API calls: the client whose token was used. */
  clientId?: string;
  /** `client`: a service account (a client_credentials token; `accountId` is `client:<id>`). */
  kind?: 'person' | 'client';
}

export const AUDITOR_ROLE = 'auditor';
/**
 * The console's session cookie: over https `__Host-admin_session` (Secure, Path=/, no Domain: no
 * sibling subdomain or plain-http response can set it), else `admin_session` scoped to /admin.
 */
export function sessionCookie(ctx: Context): { name: string; path: string } {
  return ctx.secure ? { name: '__Host-admin_session', path: '/' } : { name: 'admin_session', path: '/admin' };
}

/** `admin` beats `auditor`; neither → undefined. */
export function levelOf(roles: readonly unknown[]): AdminLevel | undefined {
  if (roles.includes('admin')) return 'admin';
  if (roles.includes(AUDITOR_ROLE)) return 'auditor';
  return undefined;
}

function lower(a: AdminLevel | undefined, b: AdminLevel | undefined): AdminLevel | undefined {
  if (!a || !b) return undefined;
  return a === 'auditor' || b === 'auditor' ? 'auditor' : 'admin';
}

export interface GuardDeps {
  models: Models;
  roles: RoleService;
  /** A client as the provider currently knows it (undefined: removed or disabled), for service-account tokens. */
  findClient?: (clientId: string) => Promise<{ name: string; serviceRoles: readonly unknown[] } | undefined>;
}

/** The account behind a session or token, if it exists, is active and holds an admin role. */
async function adminOf(deps: GuardDeps, accountId: string): Promise<{ name: string; level: AdminLevel | undefined } | undefined> {
  const account = await deps.models.Account.findByPk(accountId, { attributes: ['id', 'name', 'status'] });
  if (!account || account.status !== 'active') return undefined;
  return { name: account.name, level: levelOf(await deps.roles.rolesOf(account.id)) };
}

export function unauthorized(message = 'a valid bearer access token for the admin API is needed'): AppError {
  return new AppError('admin.unauthorized', message, { status: 401 });
}

export function forbidden(message = 'the admin or auditor role is needed'): AppError {
  return new AppError('admin.forbidden', message, { status: 403 });
}

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

/** 403 `admin.read_only` for an auditor. */
export function requireWrite(ctx: Context): AdminUser {
  const user = ctx.state.adminUser as AdminUser | undefined;
  if (!user) throw unauthorized();
  if (user.level !== 'admin') throw new AppError('admin.read_only', 'auditors can read but not change anything', { status: 403 });
  return user;
}

/** The console's session, from its signed cookie; undefined when absent, expired or not an admin any more. */
export async function consoleUser(
  deps: GuardDeps & {
    sessions: AdminSessionStore;
    /** Does the account still hold the console's grant? Revoking an account's sessions and grants ends its console session too. */
    stillGranted?: (accountId: string) => Promise<boolean>;
  },
  ctx: Context,
): Promise<{ user?: AdminUser; signedIn: boolean; csrfSecret?: string }> {
  const id = ctx.cookies.get(sessionCookie(ctx).name, { signed: true });
  if (!id) return { signedIn: false };
  const session = await deps.sessions.get(id);
  // A session from before CSRF secrets were bound to sessions: sign in again.
  if (!session?.csrfSecret) return { signedIn: false };
  if (deps.stillGranted && !(await deps.stillGranted(session.accountId))) {
    await deps.sessions.destroy(id);
    return { signedIn: false };
  }
  const admin = await adminOf(deps, session.accountId);
  if (!admin) return { signedIn: false };
  if (!admin.level) return { signedIn: true };
  return { signedIn: true, csrfSecret: session.csrfSecret, user: { accountId: session.accountId, name: admin.name, level: admin.level } };
}
