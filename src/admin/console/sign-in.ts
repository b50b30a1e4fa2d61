/**
 * The console signs in at our own issuer like any other app: authorization code + PKCE for the
 * first-party client `admin-console` (ops/admin-client.ts), the code exchanged with plain fetch at our /token
 * (openid-client is a dev dependency), the ID token verified in process against our keys. The
 * session lives server side (store/console-sessions.ts); the browser keeps only its id in a signed HttpOnly
 * SameSite=Lax cookie scoped to /admin.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import { AppError } from '../../errors/app-error.js';
import type { EphemeralStore } from '../../store/ephemeral.js';
import { newCsrfSecret } from '../../ui/csrf.js';
import type { AdminClient } from '../ops/admin-client.js';
import type { TokenVerifier } from '../verify.js';
import { sessionCookie } from './console-user.js';
import type { ConsoleSessionStore } from '../../store/console-sessions.js';

/** The pending login's cookie: `__Host-` over https, like the session's (console-user.ts). */
const loginCookie = (ctx: Context): { name: string; path: string } =>
  ctx.secure ? { name: '__Host-admin_login', path: '/' } : { name: 'admin_login', path: '/admin' };
const LOGIN_TTL_SECONDS = 600;
/** How long an admin stays signed in to the console. */
export const SESSION_TTL_SECONDS = 8 * 60 * 60;
const TOKEN_TIMEOUT_MS = 10_000;

interface PendingLogin {
  verifier: string;
  nonce: string;
  returnTo: string;
}

export interface AdminAuthDeps {
  issuer: string;
  /** The console's client (registered at start; read once). */
  client: () => Promise<AdminClient>;
  verifier: TokenVerifier;
  sessions: ConsoleSessionStore;
  ephemeral: EphemeralStore;
}

/** Only our own console pages: a path under /admin, never `//host` or a backslash trick. */
export function safeReturnTo(value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith('/admin') || value.startsWith('//')) return '/admin';
  // Same origin, a path under /admin, its query kept (audit filters carry ':' and '+').
  const url = URL.canParse(value, 'http://admin.invalid') ? new URL(value, 'http://admin.invalid') : undefined;
  if (!url || url.origin !== 'http://admin.invalid' || !/^\/admin(\/|$)/.test(url.pathname) || url.pathname.startsWith('/admin/login')) {
    return '/admin';
  }
  return `${url.pathname}${url.search}`;
}

export function createAdminAuth(deps: AdminAuthDeps) {
  const { issuer } = deps;
  const cookieOptions = (ctx: Context, maxAgeSeconds: number, path: string) => ({
    signed: true,
    httpOnly: true,
    sameSite: 'lax' as const,
    secure: ctx.secure,
    path,
    maxAge: maxAgeSeconds * 1000,
    overwrite: true,
  });

  return {
    /** GET /admin/login → our /auth. */
    async login(ctx: Context): Promise<void> {
      const client = await deps.client();
      const state = randomBytes(24).toString('base64url');
      const pending: PendingLogin = {
        verifier: randomBytes(32).toString('base64url'),
        nonce: randomBytes(16).toString('base64url'),
        returnTo: safeReturnTo(ctx.query.returnTo),
      };
      await deps.ephemeral.put(`state:admin:${state}`, pending, LOGIN_TTL_SECONDS);
      ctx.cookies.set(loginCookie(ctx).name, state, cookieOptions(ctx, LOGIN_TTL_SECONDS, loginCookie(ctx).path));
      const url = new URL(`${issuer}/auth`);
      url.search = new URLSearchParams({
        client_id: client.clientId,
        response_type: 'code',
        redirect_uri: client.redirectUri,
        scope: 'openid',
        state,
        nonce: pending.nonce,
        code_challenge: createHash('sha256').update(pending.verifier).digest('base64url'),
        code_challenge_method: 'S256',
      }).toString();
      ctx.redirect(url.toString());
    },

    /** GET /admin/callback: state (single use, bound to this browser) → code → ID token → session. */
    async callback(ctx: Context): Promise<void> {
      const client = await deps.client();
      const state = typeof ctx.query.state === 'string' ? ctx.query.state : '';
      const expected = ctx.cookies.get(loginCookie(ctx).name, { signed: true });
      ctx.cookies.set(loginCookie(ctx).name, null, { path: loginCookie(ctx).path, signed: true, secure: ctx.secure });
      const pending = state && expected === state ? await deps.ephemeral.take<PendingLogin>(`state:admin:${state}`) : undefined;
      if (!pending) throw new AppError('login.state_invalid', 'admin login state missing, reused or from another browser', { status: 400 });
      if (typeof ctx.query.error === 'string') {
        throw new AppError('access.denied', `the issuer answered ${ctx.query.error}`, { status: 403 });
      }
      const code = typeof ctx.query.code === 'string' ? ctx.query.code : '';
      if (!code) throw new AppError('login.state_invalid', 'no authorization code', { status: 400 });

      const response = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
          authorization: `Basic ${Buffer.from(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.clientSecret)}`).toString('base64')}`,
        },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code,
          redirect_uri: client.redirectUri,
          code_verifier: pending.verifier,
        }),
        signal: AbortSignal.timeout(TOKEN_TIMEOUT_MS),
      }).catch((error: unknown) => {
        throw new AppError('service.unavailable', 'the admin console could not reach the token endpoint (ISSUER)', {
          status: 503,
          cause: error,
        });
      });
      const tokens = (await response.json().catch(() => ({}))) as { id_token?: unknown; error?: unknown };
      if (!response.ok || typeof tokens.id_token !== 'string') {
        const reason = typeof tokens.error === 'string' ? tokens.error : '';
        throw new AppError('login.state_invalid', `token exchange failed: ${response.status} ${reason}`, { status: 400 });
      }
      const claims = await deps.verifier.verify(tokens.id_token, { audience: client.clientId }).catch((error: unknown) => {
        throw new AppError('server_error', 'the ID token from our own issuer did not verify', { status: 500, expose: false, cause: error });
      });
      if (claims.nonce !== pending.nonce || typeof claims.sub !== 'string') {
        throw new AppError('login.state_invalid', 'ID token nonce mismatch', { status: 400 });
      }
      const id = await deps.sessions.create(
        { accountId: claims.sub, idToken: tokens.id_token, csrfSecret: newCsrfSecret() },
        SESSION_TTL_SECONDS,
      );
      ctx.cookies.set(sessionCookie(ctx).name, id, cookieOptions(ctx, SESSION_TTL_SECONDS, sessionCookie(ctx).path));
      ctx.redirect(pending.returnTo);
    },

    /** POST /admin/logout (CSRF checked by the caller against the session): end the console session, then the issuer's. */
    async logout(ctx: Context): Promise<void> {
      const client = await deps.client();
      const id = ctx.cookies.get(sessionCookie(ctx).name, { signed: true });
      const session = id ? await deps.sessions.get(id) : undefined;
      if (id) await deps.sessions.destroy(id);
      ctx.cookies.set(sessionCookie(ctx).name, null, { path: sessionCookie(ctx).path, signed: true, secure: ctx.secure });
      const url = new URL(`${issuer}/session/end`);
      url.search = new URLSearchParams({
        client_id: client.clientId,
        post_logout_redirect_uri: client.postLogoutRedirectUri,
        ...(session ? { id_token_hint: session.idToken } : {}),
      }).toString();
      ctx.redirect(url.toString());
    },
  };
}
