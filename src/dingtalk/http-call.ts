/**
 * The HTTP request path of the DingTalk client (client.ts): one call to api.dingtalk.com or
 * oapi.dingtalk.com, from the budget slot to the parsed body, plus the app access token every oapi
 * call carries. The sign-in calls (sign-in-calls.ts) and the directory reads (directory-calls.ts)
 * are built on it.
 *
 * Why it is shaped so:
 * - Two API generations with two error conventions (§0) meet here; `send()` turns every outcome into
 *   either parsed JSON or an `UpstreamError` (errors.ts), and every body is checked by a zod schema
 *   (schemas.ts), so nothing outside `src/dingtalk/` ever sees an undici error.
 * - Every request has a deadline (an AbortSignal, plus undici's own coarse ~1 s header/body timers as
 *   a backstop). A local timeout is not retried: the user is waiting on a login page.
 * - Every HTTP attempt first takes a slot of the shared call budget (call-budget.ts), which keeps every
 *   replica and caller together below DingTalk's per-API and per-address limits; the client's
 *   `priority` says whether a person is waiting (`sign-in`) or not (`background`).
 * - Idempotent reads are retried with a short exponential backoff on busy (-1), timeout (15) and 5xx;
 *   a call that consumes a single-use code is not (it may have been used). Throttling (§6.1) is
 *   retried for every call, including the code exchange (a throttled call did nothing), after about
 *   a second, for as long as the caller's bound (`maxWaitMs`) allows.
 * - The app token is shared through a `CorpTokenCache`; when DingTalk rejects it (40014, 42001,
 *   `InvalidAuthentication`) it is invalidated and the call is repeated once with a fresh one.
 */
import { request, type Dispatcher } from 'undici';
import type { z } from 'zod';
import { UpstreamError } from '../errors/app-error.js';
import { isBudgetExhausted, type CallBudget, type CallPriority } from './call-budget.js';
import type { CorpTokenCache } from './corp-token-cache.js';
import {
  dingTalkError,
  isDingTalkError,
  isThrottled,
  mapApiError,
  mapOapiError,
  mapOapiHttpError,
  mapTransportError,
  type DingTalkErrorDetail,
  type ErrorContext,
} from './errors.js';
import { apiErrorSchema, appAccessTokenSchema, oapiEnvelopeSchema } from './schemas.js';

/** The request path's share of the client's settings (client.ts `DingTalkClientOptions`). */
export interface DingTalkHttpOptions {
  /** The app's Client ID (AppKey). */
  clientId: string;
  /** The app's Client secret (AppSecret). */
  clientSecret: string;
  /** e.g. `https://api.dingtalk.com` */
  apiBaseUrl: string;
  /** e.g. `https://oapi.dingtalk.com` */
  oapiBaseUrl: string;
  /** Deadline of one HTTP attempt, connect to last body byte. */
  timeoutMs: number;
  /** Extra attempts for idempotent reads. Default 2. */
  retries?: number;
  /** First backoff; doubled per attempt, with a little jitter. Default 200 ms. */
  retryDelayMs?: number;
  /** Backoff after a throttling answer; DingTalk's QPS window is 1 s (§6.1). Default 1000 ms. */
  throttleRetryDelayMs?: number;
  /**
   * The shared call budget every HTTP attempt takes a slot from (call-budget.ts). Absent: calls go
   * out unpaced (tests of other things, one-off CLI commands).
   */
  budget?: CallBudget;
  /** Who this client calls for: `sign-in` (default; a person is waiting) or `background` (sweeps, events). */
  priority?: CallPriority;
  /**
   * How long one call may wait, for a budget slot and for throttling retries together, before it
   * fails (`dingtalk.busy` / `dingtalk.throttled`). Default 10 s for `sign-in`, 60 s for `background`.
   */
  maxWaitMs?: number;
  tokenCache: CorpTokenCache;
  /** undici dispatcher (proxy, connection pool); default: undici's global one. */
  dispatcher?: Dispatcher;
  /**
   * Told after every HTTP attempt (metrics, logs): the operation, how long it took, and our error
   * code when it failed. Never changes the call; an exception thrown by it is ignored.
   */
  onCall?: (call: { operation: string; api: string; durationMs: number; error?: string }) => void;
}

/** `UpstreamError.operation` of each call. */
export const OPERATIONS = {
  exchangeCode: 'dingtalk.exchange_code',
  usersMe: 'dingtalk.users_me',
  appToken: 'dingtalk.app_token',
  getbyunionid: 'dingtalk.getbyunionid',
  userGet: 'dingtalk.user_get',
  departmentGet: 'dingtalk.department_get',
  freeLogin: 'dingtalk.free_login_userinfo',
  departmentListsub: 'dingtalk.department_listsub',
  userList: 'dingtalk.user_list',
  userCount: 'dingtalk.user_count',
} as const;

interface CallSpec extends ErrorContext {
  host: 'api' | 'oapi';
  /** This call's bound instead of `maxWaitMs` (the exchange of a single-use code). */
  maxWaitMs?: number;
  method: 'GET' | 'POST';
  path: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  json?: unknown;
}

/** An oapi.dingtalk.com call: always a POST, with the app token in the query. */
export type OapiCallSpec = Omit<CallSpec, 'host' | 'method'>;

/** The calls the sign-in and directory methods are made of. */
export interface DingTalkHttp {
  /** An api.dingtalk.com call; its body is the object itself. */
  callApi: <S extends z.ZodType>(spec: CallSpec, schema: S, idempotent: boolean) => Promise<z.output<S>>;
  /** An oapi.dingtalk.com call with the app token; its payload is under `result`. */
  callOapi: <S extends z.ZodType>(spec: OapiCallSpec, schema: S, idempotent: boolean) => Promise<z.output<S>>;
  /** The app access token, from the cache or freshly fetched. */
  getAppAccessToken: () => Promise<string>;
}

const MAX_LOGGED_BODY = 2000;

/** Builds the request path; it holds no connections of its own (undici's pool does). */
export function createDingTalkHttp(options: DingTalkHttpOptions): DingTalkHttp {
  const retries = options.retries ?? 2;
  const retryDelayMs = options.retryDelayMs ?? 200;
  const throttleRetryDelayMs = options.throttleRetryDelayMs ?? 1000;
  const priority = options.priority ?? 'sign-in';
  const maxWaitMs = options.maxWaitMs ?? (priority === 'sign-in' ? 10_000 : 60_000);
  const { tokenCache } = options;
  // Our own deadline firing is not retried, unlike DingTalk's gateway timeouts (504 / errcode 15).
  const localTimeouts = new WeakSet<UpstreamError>();

  /** One HTTP attempt: a budget slot (waiting until `deadline` at most), then the call. */
  async function send(spec: CallSpec, deadline: number): Promise<unknown> {
    if (options.budget) {
      await options.budget.acquire({ api: spec.path, priority, maxWaitMs: deadline - Date.now(), operation: spec.operation });
    }
    const { onCall } = options;
    if (!onCall) return sendOnce(spec);
    const started = performance.now();
    let error: string | undefined;
    try {
      return await sendOnce(spec);
    } catch (failure) {
      error = failure instanceof UpstreamError ? failure.code : 'dingtalk.error';
      throw failure;
    } finally {
      try {
        onCall({ operation: spec.operation, api: spec.path, durationMs: performance.now() - started, ...(error ? { error } : {}) });
      } catch {
        // a reporting hook never breaks a call
      }
    }
  }

  async function sendOnce(spec: CallSpec): Promise<unknown> {
    const base = spec.host === 'api' ? options.apiBaseUrl : options.oapiBaseUrl;
    const url = new URL(joinUrl(base, spec.path));
    for (const [name, value] of Object.entries(spec.query ?? {})) url.searchParams.set(name, value);
    const headers: Record<string, string> = { accept: 'application/json', ...spec.headers };
    if (spec.json !== undefined) headers['content-type'] = 'application/json';

    let status: number;
    let text: string;
    try {
      const response = await request(url, {
        method: spec.method,
        headers,
        ...(spec.json === undefined ? {} : { body: JSON.stringify(spec.json) }),
        signal: AbortSignal.timeout(options.timeoutMs),
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
        ...(options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher }),
      });
      status = response.statusCode;
      text = await response.body.text();
    } catch (error) {
      const mapped = mapTransportError(error, spec);
      if (mapped.code === 'dingtalk.timeout') localTimeouts.add(mapped);
      throw mapped;
    }

    const parsed = parseJson(text);
    const raw = parsed === undefined ? text.slice(0, MAX_LOGGED_BODY) : parsed;
    if (spec.host === 'api') {
      if (status >= 200 && status < 300) {
        if (parsed === undefined) throw badResponse(spec, status, raw);
        return parsed;
      }
      const body = apiErrorSchema.safeParse(parsed);
      throw mapApiError(status, body.success ? body.data : undefined, spec, raw);
    }
    // oapi answers errors with HTTP 200 too; any other status came from a gateway in front of it.
    if (status !== 200) throw mapOapiHttpError(status, raw, spec);
    const envelope = oapiEnvelopeSchema.safeParse(parsed);
    if (!envelope.success) throw badResponse(spec, status, raw);
    if (envelope.data.errcode !== 0) throw mapOapiError(envelope.data, spec, raw);
    return parsed;
  }

  function badResponse(spec: CallSpec, httpStatus: number, body: unknown, cause?: unknown): UpstreamError {
    const detail: DingTalkErrorDetail & { issues?: unknown } = { host: spec.host, httpStatus, body };
    if (cause !== undefined) detail.issues = cause;
    return dingTalkError('dingtalk.bad_response', spec.operation, detail);
  }

  function parse<S extends z.ZodType>(spec: CallSpec, schema: S, value: unknown): z.output<S> {
    const result = schema.safeParse(value);
    if (!result.success) throw badResponse(spec, 200, value, result.error.issues);
    return result.data;
  }

  /**
   * Runs `attempt` until it succeeds or may not be retried. Throttling is retried by time (while the
   * pause ends before the call's deadline), whatever the call: DingTalk did nothing with it. Other
   * retryable failures of idempotent calls are retried `retries` times. A budget refusal has already
   * waited its bound and is not retried.
   */
  async function withRetry<T>(idempotent: boolean, waitMs: number, attempt: (deadline: number) => Promise<T>): Promise<T> {
    const deadline = Date.now() + waitMs;
    let failures = 0;
    for (;;) {
      try {
        return await attempt(deadline);
      } catch (error) {
        if (!(error instanceof UpstreamError) || isBudgetExhausted(error)) throw error;
        let pause: number;
        if (isThrottled(error)) {
          pause = throttleRetryDelayMs + Math.floor(Math.random() * throttleRetryDelayMs * 0.2);
          if (Date.now() + pause >= deadline) throw error;
        } else {
          const retry = idempotent && failures < retries && error.retryable && !localTimeouts.has(error);
          if (!retry) throw error;
          const base = retryDelayMs * 2 ** failures;
          failures += 1;
          pause = base + Math.floor(Math.random() * base * 0.2);
        }
        await sleep(pause);
      }
    }
  }

  /** An api.dingtalk.com call; its body is the object itself. */
  async function callApi<S extends z.ZodType>(spec: CallSpec, schema: S, idempotent: boolean): Promise<z.output<S>> {
    return withRetry(idempotent, spec.maxWaitMs ?? maxWaitMs, async (deadline) => parse(spec, schema, await send(spec, deadline)));
  }

  /** An oapi.dingtalk.com call with the app token; its payload is under `result`. */
  async function callOapi<S extends z.ZodType>(spec: OapiCallSpec, schema: S, idempotent: boolean): Promise<z.output<S>> {
    const run = (token: string) =>
      withRetry(idempotent, spec.maxWaitMs ?? maxWaitMs, async (deadline) => {
        const full: CallSpec = { ...spec, host: 'oapi', method: 'POST', query: { access_token: token } };
        const body = await send(full, deadline);
        return parse(full, schema, (body as { result?: unknown }).result);
      });
    const token = await getAppAccessToken();
    try {
      return await run(token);
    } catch (error) {
      if (!isDingTalkError(error, 'dingtalk.invalid_token')) throw error;
      // Revoked or expired before our cache noticed (e.g. the secret was reset): one fresh attempt.
      await tokenCache.invalidate(token);
      return run(await getAppAccessToken());
    }
  }

  async function getAppAccessToken(): Promise<string> {
    return tokenCache.getOrRefresh(async () => {
      // POST /v1.0/oauth2/accessToken {appKey, appSecret} → {accessToken, expireIn: 7200}
      // Doc: ACCESSTOKEN-DOC (open.dingtalk.com/document/development/obtain-the-access-token-of-an-internal-app).
      // Quirks: within its validity the same token comes back (and is extended), so fetching twice is
      // harmless, but calling often gets the app throttled; wrong credentials → 400
      // `invalidClientIdOrSecret`. The token also works as `access_token` of /topapi/* (§2.1, §6.2/14).
      const result = await callApi(
        {
          operation: OPERATIONS.appToken,
          host: 'api',
          method: 'POST',
          path: '/v1.0/oauth2/accessToken',
          json: { appKey: options.clientId, appSecret: options.clientSecret },
        },
        appAccessTokenSchema,
        true,
      );
      return { token: result.accessToken, expiresInSeconds: result.expireIn };
    });
  }

  return { callApi, callOapi, getAppAccessToken };
}

export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}${path}`;
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
