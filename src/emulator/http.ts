import { randomBytes, randomUUID } from 'node:crypto';
import type { Context } from 'koa';

// Response helpers giving each emulated host DingTalk's exact envelope (§0): api.dingtalk.com answers
// errors with HTTP 4xx/5xx and `{code, requestid, message}` plus the `x-acs-*` headers;
// oapi.dingtalk.com always answers HTTP 200 with `{errcode, errmsg, request_id}`.

/** Which DingTalk host a path belongs to (one emulator server plays all three). */
export type DingTalkHost = 'api' | 'oapi' | 'login' | 'cdn';

export function hostOf(path: string): DingTalkHost {
  if (path.startsWith('/v1.0/')) return 'api';
  if (path.startsWith('/dingding/')) return 'cdn'; // g.alicdn.com: the JSAPI script
  if (path === '/oauth2/auth' || path.startsWith('/oauth2/auth/')) return 'login';
  return 'oapi';
}

const API_CONTENT_TYPE = 'application/json;charset=utf-8';

/** api.dingtalk.com request ids look like `30EE8654-1AA2-7D88-8248-9518547248AA`. */
function apiRequestId(): string {
  return randomUUID().toUpperCase();
}

/** oapi request ids look like `16h2v5ajmg4sl`. */
function oapiRequestId(): string {
  return randomBytes(8)
    .toString('base64url')
    .toLowerCase()
    .replace(/[^a-z0-9]/g, 'x')
    .slice(0, 13);
}

/** An api.dingtalk.com answer with its headers; returns the request id it used. */
export function sendApi(ctx: Context, status: number, body: unknown): string {
  const requestId = apiRequestId();
  ctx.status = status;
  ctx.body = JSON.stringify(body);
  ctx.set('Content-Type', API_CONTENT_TYPE);
  ctx.set('x-acs-request-id', requestId);
  ctx.set('x-acs-trace-id', randomBytes(16).toString('hex'));
  return requestId;
}

/** `{code, requestid, message, …extra}` with an HTTP error status (the code is a string). */
export function sendApiError(ctx: Context, status: number, code: string, message: string, extra: Record<string, unknown> = {}): void {
  const requestid = apiRequestId();
  ctx.status = status;
  ctx.body = JSON.stringify({ code, requestid, message, ...extra });
  ctx.set('Content-Type', API_CONTENT_TYPE);
  ctx.set('x-acs-request-id', requestid);
  ctx.set('x-acs-trace-id', randomBytes(16).toString('hex'));
}

/** An oapi answer: always HTTP 200. */
export function sendOapi(ctx: Context, body: Record<string, unknown>): void {
  ctx.status = 200;
  ctx.body = JSON.stringify({ ...body, request_id: oapiRequestId() });
  ctx.set('Content-Type', 'application/json');
}

/** `{errcode: 0, errmsg: "ok", result, request_id}`. */
export function sendOapiResult(ctx: Context, result: unknown): void {
  sendOapi(ctx, { errcode: 0, errmsg: 'ok', result });
}

/** `{errcode, errmsg, request_id}` with HTTP 200. */
export function sendOapiError(ctx: Context, errcode: number, errmsg: string, extra: Record<string, unknown> = {}): void {
  sendOapi(ctx, { errcode, errmsg, ...extra });
}

/**
 * Auth failures on oapi: `errcode 88` with a **string** `sub_code` (PROBE P8):
 * `{"errcode":88,"sub_code":"40014","sub_msg":"不合法的access_token","errmsg":"ding talk error[subcode=40014,submsg=…]"}`.
 */
export function sendOapiAuthError(ctx: Context, subCode: string, subMsg: string): void {
  sendOapi(ctx, {
    errcode: 88,
    sub_code: subCode,
    sub_msg: subMsg,
    errmsg: `ding talk error[subcode=${subCode},submsg=${subMsg}]`,
  });
}

const MAX_BODY_BYTES = 1024 * 1024;
const rawBodies = new WeakMap<object, Promise<string>>();

/** The raw request body (read once, cached per request). */
export function readRawBody(ctx: Context): Promise<string> {
  let pending = rawBodies.get(ctx.req);
  if (pending === undefined) {
    pending = new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      ctx.req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) {
          reject(new Error('request body too large'));
          ctx.req.destroy();
          return;
        }
        chunks.push(chunk);
      });
      ctx.req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      ctx.req.on('error', reject);
    });
    rawBodies.set(ctx.req, pending);
  }
  return pending;
}

/**
 * The body as a JSON object, or `undefined` when it is not one (wrong content type, empty, not
 * JSON, not an object) — which api.dingtalk.com answers with 400 `Missingbody` (PHP-36).
 */
export async function readJsonObject(ctx: Context): Promise<Record<string, unknown> | undefined> {
  if (ctx.request.is('application/json', '+json') === false) return undefined;
  const raw = await readRawBody(ctx);
  try {
    const value: unknown = JSON.parse(raw);
    return isRecord(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** oapi takes JSON, and a form body works too (PROBE P9/P11: `access_token` as a form field). */
export async function readOapiBody(ctx: Context): Promise<Record<string, unknown>> {
  if (ctx.method === 'GET' || ctx.method === 'HEAD') return {};
  const json = await readJsonObject(ctx);
  if (json !== undefined) return json;
  if (ctx.request.is('application/x-www-form-urlencoded') !== false) {
    return Object.fromEntries(new URLSearchParams(await readRawBody(ctx)));
  }
  return {};
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A non-empty string field, or `undefined`. */
export function stringField(body: Record<string, unknown>, name: string): string | undefined {
  const value = body[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}
