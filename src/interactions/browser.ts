import { createHash, randomBytes } from 'node:crypto';
import type { Context } from 'koa';

const COOKIE = '_dt_browser';

/**
 * A random id for this browser, in a signed HttpOnly cookie, so a DingTalk `state` (and the
 * hand-over after the callback) only works in the browser that started the login (dingtalk-api.md
 * §6.2 gotcha 12). Only its hash is stored server-side.
 */
export function browserBinding(ctx: Context, create: boolean): string | undefined {
  let id = ctx.cookies.get(COOKIE, { signed: true });
  if (!id && create) {
    id = randomBytes(24).toString('base64url');
    // Lax: the cookie must come along on DingTalk's top-level redirect back to us.
    ctx.cookies.set(COOKIE, id, { signed: true, httpOnly: true, sameSite: 'lax', secure: ctx.secure, path: '/' });
  }
  return id ? createHash('sha256').update(id).digest('base64url') : undefined;
}

/**
 * The browser's id as a rate-limit key (a hash of the signed cookie), without creating one; undefined
 * when the request has no valid cookie.
 */
export function browserKey(ctx: Context): string | undefined {
  return browserBinding(ctx, false);
}

export function randomToken(): string {
  return randomBytes(32).toString('base64url');
}
