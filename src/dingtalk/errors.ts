import { UpstreamError } from '../errors/app-error.js';
import type { ApiErrorBody, OapiEnvelope } from './schemas.js';

/**
 * Every code this module produces; `dingtalk.not_in_corp` (an `AccountError`) is thrown by the client.
 * Each maps to our own fixed message: upstream text only travels on `cause`, for the log, together
 * with the raw payload and request id.
 */
export type DingTalkErrorCode =
  | 'dingtalk.invalid_token'
  | 'dingtalk.invalid_client'
  | 'dingtalk.invalid_code'
  | 'dingtalk.permission_denied'
  | 'dingtalk.ip_not_allowed'
  | 'dingtalk.user_not_found'
  | 'dingtalk.department_not_found'
  | 'dingtalk.throttled'
  | 'dingtalk.busy'
  | 'dingtalk.quota_exceeded'
  | 'dingtalk.timeout'
  | 'dingtalk.unavailable'
  | 'dingtalk.invalid_request'
  | 'dingtalk.api_error'
  | 'dingtalk.bad_response';

interface CodeInfo {
  message: string;
  status: number;
  retryable: boolean;
}

/** Our own fixed text per code: never built from DingTalk's `message`/`errmsg`. */
const CODE_INFO: Record<DingTalkErrorCode, CodeInfo> = {
  'dingtalk.invalid_token': { message: 'DingTalk rejected the access token', status: 502, retryable: false },
  'dingtalk.invalid_client': { message: 'DingTalk rejected the app credentials', status: 502, retryable: false },
  'dingtalk.invalid_code': {
    message: 'The DingTalk authorization code is invalid, expired or already used',
    status: 502,
    retryable: false,
  },
  'dingtalk.permission_denied': {
    message: 'The DingTalk app lacks a permission this call needs',
    status: 502,
    retryable: false,
  },
  'dingtalk.ip_not_allowed': {
    message: "This server's address is not in the DingTalk app's IP allow-list",
    status: 502,
    retryable: false,
  },
  'dingtalk.user_not_found': { message: 'DingTalk has no such user in the organisation', status: 502, retryable: false },
  'dingtalk.department_not_found': { message: 'DingTalk has no such department', status: 502, retryable: false },
  'dingtalk.throttled': { message: 'DingTalk is throttling this app', status: 503, retryable: true },
  // Our own call budget (call-budget.ts) had no slot within the caller's bound: DingTalk was not called.
  'dingtalk.busy': { message: 'Too many DingTalk calls right now: no slot within the wait allowed', status: 503, retryable: true },
  'dingtalk.quota_exceeded': { message: "The organisation's DingTalk API quota is used up", status: 503, retryable: false },
  'dingtalk.timeout': { message: 'DingTalk did not answer in time', status: 504, retryable: true },
  'dingtalk.unavailable': { message: 'DingTalk is temporarily unavailable', status: 503, retryable: true },
  'dingtalk.invalid_request': { message: 'DingTalk rejected the request as malformed', status: 502, retryable: false },
  'dingtalk.api_error': { message: 'DingTalk returned an error', status: 502, retryable: false },
  'dingtalk.bad_response': { message: 'DingTalk returned an unexpected response', status: 502, retryable: false },
};

/** What goes on `cause` for an error response: enough for the log, never shown to a person. */
export interface DingTalkErrorDetail {
  host: 'api' | 'oapi';
  httpStatus: number;
  /** `requestid` (api) or `request_id` (oapi), when DingTalk sent one. */
  requestId?: string;
  /** The raw parsed (or, when not JSON, textual) body. */
  body: unknown;
}

/** Context of the failing call. */
export interface ErrorContext {
  /** e.g. `dingtalk.exchange_code`; becomes `UpstreamError.operation`. */
  operation: string;
  /**
   * True when the call consumes a single-use code (`userAccessToken`): DingTalk does not document
   * the error code for a reused/expired code (§1.3 "unverified"), so any otherwise unclassified 4xx
   * from such a call means the code was not accepted.
   */
  consumesCode?: boolean;
}

/** Builds an `UpstreamError` with our message, status and retryability for `code`. */
export function dingTalkError(code: DingTalkErrorCode, operation: string, cause?: unknown): UpstreamError {
  const info = CODE_INFO[code];
  return new UpstreamError(code, info.message, {
    operation,
    retryable: info.retryable,
    status: info.status,
    cause,
  });
}

/**
 * True when DingTalk refused a call for calling too fast (§6.1: oapi 90018 and its siblings, 88
 * without a sub_code; api 403 `Forbidden.AccessDenied.QpsLimit…`; HTTP 429). The call did nothing:
 * even one carrying a single-use code may be sent again after a short pause.
 */
export function isThrottled(error: unknown): boolean {
  return isDingTalkError(error, 'dingtalk.throttled');
}

/** True for an `UpstreamError` carrying `code`. */
export function isDingTalkError(error: unknown, code?: DingTalkErrorCode): error is UpstreamError {
  return error instanceof UpstreamError && error.code.startsWith('dingtalk.') && (code === undefined || error.code === code);
}

// §1.5; codes are compared exactly (they are case-sensitive strings: `invalidClientIdOrSecret`).
const API_CODES: ReadonlyMap<string, DingTalkErrorCode> = new Map<string, DingTalkErrorCode>([
  ['InvalidAuthentication', 'dingtalk.invalid_token'],
  ['AuthenticationFailed.MissingParameter', 'dingtalk.invalid_token'],
  ['accesstoken.expired', 'dingtalk.invalid_token'],
  ['invalidClientIdOrSecret', 'dingtalk.invalid_client'],
  ['invalid.client', 'dingtalk.invalid_client'],
  // Stream registration with a wrong Client ID or secret: HTTP 401 (§10.1).
  ['authFailed', 'dingtalk.invalid_client'],
  ['Forbidden.AccessDenied.AccessTokenPermissionDenied', 'dingtalk.permission_denied'],
  ['Forbidden.AccessDenied.IpNotInWhiteList', 'dingtalk.ip_not_allowed'],
  ['Forbidden.AccessDenied.QpsLimitForAppkeyAndApi', 'dingtalk.throttled'],
  ['Forbidden.AccessDenied.QpsLimitForApi', 'dingtalk.throttled'],
  ['Forbidden.AccessDenied.ApiCountLimitForOrg', 'dingtalk.quota_exceeded'],
  ['Missingbody', 'dingtalk.invalid_request'],
  ['InvalidParameter', 'dingtalk.invalid_request'],
]);

/**
 * Maps an api.dingtalk.com failure (`status` is not 2xx). The string `code` decides first (the same
 * code can arrive with different statuses, §0), the status second. `body` is the parsed error body when it had
 * the documented shape, `undefined` otherwise (e.g. an HTML 502 from a gateway); `raw` is what
 * actually came back, for the log.
 */
export function mapApiError(status: number, body: ApiErrorBody | undefined, context: ErrorContext, raw: unknown = body): UpstreamError {
  const detail: DingTalkErrorDetail = { host: 'api', httpStatus: status, body: raw };
  if (body?.requestid !== undefined) detail.requestId = body.requestid;
  return dingTalkError(classifyApi(status, body?.code, context), context.operation, detail);
}

function classifyApi(status: number, code: string | undefined, context: ErrorContext): DingTalkErrorCode {
  let mapped: DingTalkErrorCode | undefined = code === undefined ? undefined : API_CODES.get(code);
  if (mapped === undefined && code !== undefined) {
    if (code.startsWith('Forbidden.AccessDenied.')) mapped = 'dingtalk.permission_denied';
    else if (code.startsWith('AuthenticationFailed.')) mapped = 'dingtalk.invalid_token';
    else if (code.startsWith('Missing') || code.startsWith('InvalidParameter')) mapped = 'dingtalk.invalid_request';
  }
  if (mapped === undefined && status >= 500) mapped = status === 504 ? 'dingtalk.timeout' : 'dingtalk.unavailable';
  // Too Many Requests is a refusal at the door: a code sent with it was not used up.
  if (mapped === undefined && status === 429) mapped = 'dingtalk.throttled';
  if (
    context.consumesCode === true &&
    status < 500 &&
    code !== 'Missingbody' &&
    (mapped === undefined || mapped === 'dingtalk.invalid_request')
  ) {
    return 'dingtalk.invalid_code';
  }
  return mapped ?? 'dingtalk.api_error';
}

// §2.5 and §6.1. Only the codes we can act on differently are listed; the rest are `api_error`.
const OAPI_CODES: ReadonlyMap<number, DingTalkErrorCode> = new Map<number, DingTalkErrorCode>([
  [-1, 'dingtalk.unavailable'],
  [15, 'dingtalk.timeout'],
  [40000, 'dingtalk.invalid_token'],
  [40001, 'dingtalk.invalid_token'],
  [40014, 'dingtalk.invalid_token'],
  [42001, 'dingtalk.invalid_token'],
  [40078, 'dingtalk.invalid_code'],
  [40089, 'dingtalk.invalid_client'],
  [40096, 'dingtalk.invalid_client'],
  [40035, 'dingtalk.invalid_request'],
  [400002, 'dingtalk.invalid_request'],
  [60003, 'dingtalk.department_not_found'],
  [60011, 'dingtalk.permission_denied'],
  [60020, 'dingtalk.ip_not_allowed'],
  [60121, 'dingtalk.user_not_found'],
  [90002, 'dingtalk.throttled'],
  [90005, 'dingtalk.throttled'],
  [90006, 'dingtalk.throttled'],
  [90018, 'dingtalk.throttled'],
  [90019, 'dingtalk.throttled'],
  [90020, 'dingtalk.quota_exceeded'],
]);

/**
 * Maps an oapi.dingtalk.com envelope whose `errcode` is not 0 (it answers HTTP 200 regardless). Auth
 * failures are wrapped as `errcode: 88` with a **string** `sub_code` (§2.5), so checking
 * `errcode == 40014` alone would never fire.
 */
export function mapOapiError(envelope: OapiEnvelope, context: ErrorContext, raw: unknown = envelope): UpstreamError {
  const detail: DingTalkErrorDetail = { host: 'oapi', httpStatus: 200, body: raw };
  if (envelope.request_id !== undefined) detail.requestId = envelope.request_id;
  return dingTalkError(classifyOapi(envelope), context.operation, detail);
}

function classifyOapi(envelope: OapiEnvelope): DingTalkErrorCode {
  if (envelope.errcode === 88) {
    const sub = envelope.sub_code;
    // 88 without a sub_code is the momentary ban after calling too fast (lifted within ~1 s) or a
    // gateway timeout (§2.5, §6.1): both clear up on a retry.
    if (sub === undefined || sub === '') return 'dingtalk.throttled';
    if (/^-?\d+$/.test(sub)) return OAPI_CODES.get(Number(sub)) ?? 'dingtalk.api_error';
    if (sub.includes('timeout')) return 'dingtalk.timeout';
    return 'dingtalk.api_error';
  }
  return OAPI_CODES.get(envelope.errcode) ?? 'dingtalk.api_error';
}

/** Maps an HTTP failure of oapi (it answers 200 even for errors, so anything else is a gateway). */
export function mapOapiHttpError(status: number, raw: unknown, context: ErrorContext): UpstreamError {
  let code: DingTalkErrorCode = 'dingtalk.bad_response';
  if (status === 504) code = 'dingtalk.timeout';
  else if (status >= 500) code = 'dingtalk.unavailable';
  else if (status === 429) code = 'dingtalk.throttled';
  const detail: DingTalkErrorDetail = { host: 'oapi', httpStatus: status, body: raw };
  return dingTalkError(code, context.operation, detail);
}

const TIMEOUT_ERROR_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

/** True when `error` is a client-side timeout (our AbortSignal or one of undici's own timers). */
export function isTimeoutError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'TimeoutError') return true;
  const code = (error as Error & { code?: unknown }).code;
  return typeof code === 'string' && TIMEOUT_ERROR_CODES.has(code);
}

/**
 * Maps a transport failure (undici error, abort, DNS, refused/reset connection). The original error
 * rides on `cause` for the log; callers never see it thrown.
 */
export function mapTransportError(error: unknown, context: ErrorContext): UpstreamError {
  return dingTalkError(isTimeoutError(error) ? 'dingtalk.timeout' : 'dingtalk.unavailable', context.operation, error);
}

/**
 * What DingTalk answered to a failed call, for an operator's diagnostic (`dingtalk check`, the
 * console's DingTalk page): its own code (`code` of the new API, `errcode[/sub_code]` of the old
 * one), the HTTP status, the request id and the permissions a 403 names; or, when DingTalk was not
 * reached, which host and what connection error. Codes only, never DingTalk's text.
 */
export interface UpstreamFailure {
  /** e.g. `Forbidden.AccessDenied.AccessTokenPermissionDenied`, `errcode 88/40014`. */
  code?: string;
  httpStatus?: number;
  requestId?: string;
  /** The permissions DingTalk says are missing (`accessdenieddetail.requiredScopes`). */
  needs?: string;
  /** Set when DingTalk was not reached: the host asked and the connection error in one line. */
  unreachable?: { host: 'api' | 'oapi'; transport: string };
}

/** Operations on api.dingtalk.com; every other one is an oapi call. */
const API_OPERATIONS = new Set(['dingtalk.exchange_code', 'dingtalk.users_me', 'dingtalk.app_token']);

/** {@link UpstreamFailure} of an error thrown by the client; undefined for anything else. */
export function describeUpstreamFailure(error: unknown): UpstreamFailure | undefined {
  if (!isDingTalkError(error)) return undefined;
  const cause = error.cause;
  if (isErrorDetail(cause)) {
    const failure: UpstreamFailure = { httpStatus: cause.httpStatus };
    const code = upstreamCode(cause);
    if (code !== undefined) failure.code = code;
    if (cause.requestId !== undefined) failure.requestId = cause.requestId;
    const needs = requiredScopes(cause.body);
    if (needs !== undefined) failure.needs = needs;
    return failure;
  }
  if ((error.code === 'dingtalk.unavailable' || error.code === 'dingtalk.timeout') && cause instanceof Error) {
    return { unreachable: { host: API_OPERATIONS.has(error.operation) ? 'api' : 'oapi', transport: transportText(cause) } };
  }
  return undefined;
}

/** The failure in one parenthesised line: `DingTalk errcode 60011, HTTP 200, request id …`. */
export function upstreamFailureText(failure: UpstreamFailure): string {
  if (failure.unreachable) return failure.unreachable.transport;
  const parts = [
    failure.code && `DingTalk ${failure.code}`,
    failure.httpStatus !== undefined && `HTTP ${failure.httpStatus}`,
    failure.requestId && `request id ${failure.requestId}`,
    failure.needs && `needs ${failure.needs}`,
  ];
  return parts.filter(Boolean).join(', ');
}

function isErrorDetail(value: unknown): value is DingTalkErrorDetail {
  return typeof value === 'object' && value !== null && 'host' in value && 'httpStatus' in value;
}

function upstreamCode(detail: DingTalkErrorDetail): string | undefined {
  const body = detail.body as Record<string, unknown> | null;
  if (typeof body !== 'object' || body === null) return undefined;
  const clean = (value: unknown): string | undefined =>
    (typeof value === 'string' || typeof value === 'number') && /^[\w.-]{1,100}$/.test(String(value)) ? String(value) : undefined;
  if (detail.host === 'api') return clean(body.code);
  const errcode = clean(body.errcode);
  const sub = clean(body.sub_code);
  return errcode === undefined ? undefined : `errcode ${errcode}${sub ? `/${sub}` : ''}`;
}

function requiredScopes(body: unknown): string | undefined {
  const scopes = (body as { accessdenieddetail?: { requiredScopes?: unknown } } | null)?.accessdenieddetail?.requiredScopes;
  if (!Array.isArray(scopes)) return undefined;
  const names = scopes.filter((scope): scope is string => typeof scope === 'string' && /^[\w.-]{1,100}$/.test(scope));
  return names.length > 0 ? names.join(', ') : undefined;
}

/** A connection error in one line: `ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:9`, a timeout… */
function transportText(error: Error): string {
  const inner = error instanceof AggregateError && error.errors[0] instanceof Error ? error.errors[0] : error;
  const code = (inner as { code?: unknown }).code ?? (error as { code?: unknown }).code;
  const message = (inner.message || error.message || error.name).replace(/\s+/g, ' ').slice(0, 200);
  return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
}
