import type { Context } from 'koa';
import { readOapiBody, sendOapiAuthError, sendOapiError, stringField } from './http.js';
import type { EmulatorState } from './state.js';

/**
 * Checks an oapi call's app token (the `access_token` query parameter, or a form field, §0) and
 * returns the body; answers and returns `undefined` when the token is missing, invalid or expired,
 * or when the app lacks `permission` (§11.2: errcode 60011).
 */
export async function authorizeOapi(state: EmulatorState, ctx: Context, permission?: string): Promise<Record<string, unknown> | undefined> {
  const body = await readOapiBody(ctx);
  const fromQuery = typeof ctx.query.access_token === 'string' ? ctx.query.access_token : '';
  const token = fromQuery !== '' ? fromQuery : (stringField(body, 'access_token') ?? '');
  if (token === '') {
    sendOapiAuthError(ctx, '40000', 'access_token is blank');
    return undefined;
  }
  const checked = state.checkToken(token);
  if (checked.status === 'expired') {
    // Documented as errcode 42001 "access_token expired" (PROBE §3); like every oapi auth failure
    // it arrives wrapped in 88 with the number as a string sub_code.
    sendOapiAuthError(ctx, '42001', 'access_token expired');
    return undefined;
  }
  // A user token does not work on oapi (§6.2 gotcha 14).
  if (checked.status !== 'valid' || checked.record.type !== 'app') {
    sendOapiAuthError(ctx, '40014', '不合法的access_token');
    return undefined;
  }
  if (permission !== undefined && !state.hasPermission(permission)) {
    sendOapiError(ctx, 60011, `没有调用该接口的权限，需要权限点：${permission}`);
    return undefined;
  }
  return body;
}

/** A body field as an integer: JSON numbers, and digit strings (form bodies carry strings). */
export function intField(body: Record<string, unknown>, name: string): number | 'missing' | 'invalid' {
  const value = body[name];
  if (value === undefined || value === null || value === '') return 'missing';
  const number = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : NaN;
  return Number.isSafeInteger(number) ? number : 'invalid';
}

/** A body field as a boolean: JSON booleans, and `"true"` / `"false"` from a form body. */
export function booleanField(body: Record<string, unknown>, name: string): boolean | 'missing' | 'invalid' {
  const value = body[name];
  if (value === undefined || value === null || value === '') return 'missing';
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'false') return value === 'true';
  return 'invalid';
}
