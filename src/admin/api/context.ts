/**
 * What every admin API route file gets: the operations, who acts, and the pieces of the zod
 * schemas its requests are checked with (client-schema.ts for clients). A request that does not
 * fit is a 400 `admin.invalid_request` naming the first field that is wrong.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
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

/** `input` checked against `schema`; the first problem is a 400 with `code`. */
export function parse<T extends z.ZodType>(schema: T, input: unknown, code = 'admin.invalid_request'): z.output<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new AppError(code, result.error.issues[0]?.message ?? 'the request is malformed', { status: 400 });
}

const blankToUndefined = (value: unknown): unknown => (value === null || value === '' ? undefined : value);

/** A required string of at most 512 characters (null and '' count as missing). */
export const requiredText = (field: string) =>
  z.preprocess(
    blankToUndefined,
    z
      .string({ error: (issue) => (issue.input === undefined ? `${field} is required` : `${field} is a string`) })
      .max(512, { error: `${field} is a string` }),
  );

/** An optional string of at most 512 characters (null and '' count as absent). */
export const optionalText = (field: string) =>
  z.preprocess(
    blankToUndefined,
    z
      .string({ error: `${field} is a string` })
      .max(512, { error: `${field} is a string` })
      .optional(),
  );

export const optionalFlag = (field: string) => z.boolean({ error: `${field} is true or false` }).optional();

/** At most 50 non-empty strings of at most 2000 characters. */
export const stringList = (field: string) => {
  const error = `${field} is a list of strings`;
  return z.array(z.string({ error }).min(1, { error }).max(2000, { error }), { error }).max(50, { error });
};
