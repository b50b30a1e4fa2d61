/**
 * What every console page file gets: the router, the operations, the renderer, the middleware
 * that signs the admin in (`signedIn`) and reads forms (`form`), and the checks of a change
 * (`writer`: CSRF token, no auditors). Plus the small readers of form fields the pages share.
 */
import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { Actor } from '../ops/actor.js';
import type { AdminOps } from '../ops/index.js';
import type { AdminRenderer } from './render.js';

export interface ConsolePages {
  router: Router;
  ops: AdminOps;
  render: AdminRenderer;
  signedIn: Middleware;
  form: Middleware;
  /** A POST form: CSRF token checked, auditors refused; returns who acts. */
  writer: (ctx: Context) => Actor;
  /** Only the CSRF check (forms that change nothing, like the rule preview). */
  verifyCsrf: (ctx: Context) => void;
}

/** The posted form's fields. */
export function fieldsOf(ctx: Context): Record<string, unknown> {
  const value = (ctx.request as { body?: unknown }).body;
  return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
}

export const text = (value: unknown): string => (typeof value === 'string' ? value.trim() : '');

/** A textarea or comma list: one item per line, space or comma. */
export const lines = (value: unknown): string[] =>
  (typeof value === 'string' ? value : '')
    .split(/[\s,，]+/)
    .map((part) => part.trim())
    .filter((part) => part !== '');

export const checked = (value: unknown): boolean => value === 'on' || value === 'true';

/** The `done` notice of a post/redirect/get. */
export const doneOf = (ctx: Context): string => (typeof ctx.query.done === 'string' ? ctx.query.done.slice(0, 40) : '');

/** `&failed=N` for the notice that N back-channel logout deliveries failed (nothing when none did). */
export const failedParam = (count: number): string => (count > 0 ? `&failed=${count}` : '');
