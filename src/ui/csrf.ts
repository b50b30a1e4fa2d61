import Tokens from 'csrf';
import type { Context, Middleware } from 'koa';
import { AppError } from '../errors/app-error.js';

/**
 * CSRF protection for every form we render (the `csrf` package of pillarjs, as used by csurf and
 * koa-csrf): a per-browser secret lives in a signed, HttpOnly cookie; each page embeds a salted
 * token derived from it; a POST must send a token that matches the cookie's secret. A cross-site
 * page can make the browser send the cookie but cannot read or forge a token.
 */
const tokens = new Tokens({ secretLength: 32, saltLength: 16 });
const COOKIE = '_csrf';

declare module 'koa' {
  interface DefaultState {
    /** A token for this browser, for the hidden `_csrf` field of a form. */
    csrfToken?: () => string;
  }
}

/** Adds `ctx.state.csrfToken()`; the secret cookie is set the first time a token is made. */
export function csrfTokens(): Middleware {
  return async (ctx, next) => {
    ctx.state.csrfToken = () => tokens.create(secretOf(ctx));
    await next();
  };
}

function secretOf(ctx: Context): string {
  let secret = ctx.cookies.get(COOKIE, { signed: true });
  if (!secret || secret.length < 20) {
    secret = tokens.secretSync();
    ctx.cookies.set(COOKIE, secret, { signed: true, httpOnly: true, sameSite: 'lax', secure: ctx.secure, path: '/' });
  }
  return secret;
}

/** Throws 403 `csrf.invalid` unless `token` was made for this browser. */
export function verifyCsrf(ctx: Context, token: unknown): void {
  const secret = ctx.cookies.get(COOKIE, { signed: true });
  if (!secret || typeof token !== 'string' || !tokens.verify(secret, token)) {
    throw new AppError('csrf.invalid', 'the form is stale or was not sent by this site', { status: 403, expose: true });
  }
}
