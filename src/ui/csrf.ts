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
/**
 * Over https the cookie is `__Host-csrf`: browsers accept it only with Secure, Path=/ and no Domain,
 * so a sibling subdomain or a plain-http response cannot plant one (RFC 6265bis §4.1.3.2).
 */
const cookieName = (ctx: Context): string => (ctx.secure ? '__Host-csrf' : '_csrf');

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
  let secret = ctx.cookies.get(cookieName(ctx), { signed: true });
  if (!secret || secret.length < 20) {
    secret = tokens.secretSync();
    ctx.cookies.set(cookieName(ctx), secret, { signed: true, httpOnly: true, sameSite: 'lax', secure: ctx.secure, path: '/' });
  }
  return secret;
}

/** Throws 403 `csrf.invalid` unless `token` was made for this browser. */
export function verifyCsrf(ctx: Context, token: unknown): void {
  verifyCsrfWith(ctx.cookies.get(cookieName(ctx), { signed: true }), token);
}

/** A new secret for a server-side session (the admin console binds its forms to its session). */
export function newCsrfSecret(): string {
  return tokens.secretSync();
}

/** A form token for `secret`. */
export function csrfTokenFor(secret: string): string {
  return tokens.create(secret);
}

/** Throws 403 `csrf.invalid` unless `token` was made from `secret`. */
export function verifyCsrfWith(secret: string | undefined, token: unknown): void {
  if (!secret || typeof token !== 'string' || !tokens.verify(secret, token)) {
    throw new AppError('csrf.invalid', 'the form is stale or was not sent by this site', { status: 403, expose: true });
  }
}
