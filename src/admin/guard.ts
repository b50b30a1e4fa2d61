/**
 * Who may use the console and the admin API. The `admin` role reads and writes; `auditor` only
 * reads (every write answers 403). Roles are read from the database at every request, so taking a
 * role away takes effect at once, even for an API token that still claims it. How a caller is
 * recognised is the interface's own: api/bearer-guard.ts (tokens), console/console-user.ts (the
 * console's session cookie).
 */
import type { Context } from 'koa';
import type { RoleService } from '../accounts/roles.js';
import type { Models } from '../db/models/index.js';
import { AppError } from '../errors/app-error.js';

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

/** `admin` beats `auditor`; neither → undefined. */
export function levelOf(roles: readonly unknown[]): AdminLevel | undefined {
  if (roles.includes('admin')) return 'admin';
  if (roles.includes(AUDITOR_ROLE)) return 'auditor';
  return undefined;
}

export function lower(a: AdminLevel | undefined, b: AdminLevel | undefined): AdminLevel | undefined {
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
export async function adminOf(deps: GuardDeps, accountId: string): Promise<{ name: string; level: AdminLevel | undefined } | undefined> {
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

/** 403 `admin.read_only` for an auditor. */
export function requireWrite(ctx: Context): AdminUser {
  const user = ctx.state.adminUser as AdminUser | undefined;
  if (!user) throw unauthorized();
  if (user.level !== 'admin') throw new AppError('admin.read_only', 'auditors can read but not change anything', { status: 403 });
  return user;
}
