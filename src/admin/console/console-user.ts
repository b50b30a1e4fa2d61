/** The signed-in admin of a console request, from the session cookie and the login sessions. */
import type { Context } from 'koa';
import { adminOf, type AdminUser, type GuardDeps } from '../guard.js';
import type { ConsoleSessionStore } from '../../store/console-sessions.js';

/**
 * The console's session cookie: over https `__Host-admin_session` (Secure, Path=/, no Domain: no
 * sibling subdomain or plain-http response can set it), else `admin_session` scoped to /admin.
 */
export function sessionCookie(ctx: Context): { name: string; path: string } {
  return ctx.secure ? { name: '__Host-admin_session', path: '/' } : { name: 'admin_session', path: '/admin' };
}

/** The console's session, from its signed cookie; undefined when absent, expired or not an admin any more. */
export async function consoleUser(
  deps: GuardDeps & {
    sessions: ConsoleSessionStore;
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
