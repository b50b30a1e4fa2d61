/**
 * What every admin API route file gets: the operations, and the request helpers (who acts, the
 * JSON body, checked strings) that turn a bad request into a 400 `admin.invalid_request`.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { AppError } from '../../errors/app-error.js';
import { requireWrite } from '../guard.js';
import type { Actor } from '../ops/actor.js';
import type { AdminOps } from '../ops/index.js';

export interface ApiRoutes {
  router: Router;
  ops: AdminOps;
}

/** The acting admin of a write (auditors get 403 `admin.read_only`). */
export function actorOf(ctx: Context): Actor {
  const user = requireWrite(ctx);
  return { accountId: user.accountId, via: 'api', ip: ctx.ip, ...(user.clientId ? { clientId: user.clientId } : {}) };
}

/** The JSON body, or `{}` when there is none or it is not an object. */
export function bodyOf(ctx: Context): Record<string, unknown> {
  const value = (ctx.request as { body?: unknown }).body;
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

export function bad(message: string): AppError {
  return new AppError('admin.invalid_request', message, { status: 400 });
}

/** A string field of at most 512 characters; undefined when absent and not required. */
export function str(value: unknown, field: string, required = true): string | undefined {
  if (value === undefined || value === null || value === '') {
    if (required) throw bad(`${field} is required`);
    return undefined;
  }
  if (typeof value !== 'string' || value.length > 512) throw bad(`${field} is a string`);
  return value;
}

export function stringList(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || value.length > 50 || !value.every((v) => typeof v === 'string' && v.length > 0 && v.length <= 2000)) {
    throw bad(`${field} is a list of strings`);
  }
  return value as string[];
}
