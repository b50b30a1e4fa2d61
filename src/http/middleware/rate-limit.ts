/**
 * Abuse limits (rate-limiter-flexible). DESIGN.md: they aim at failures and floods, not at
 * legitimate high-volume services — a backend asking for thousands of tokens or introspections a
 * second from one address is normal. And they must never lock out a legitimate application: every
 * app sends stale codes and refresh tokens when its users' tokens expire or are revoked. So:
 *
 * - Token endpoints (/token, /token/introspection, /token/revocation, /request):
 *   - `tokenFlood`: every request per IP, counted **in this process's memory** (no Redis round trip
 *     on the hot path; N replicas allow N × the limit), in fixed windows without a promise
 *     (flood-window.ts). Generous: it only sheds floods.
 *   - `invalid_grant` (a stale or revoked code or refresh token) is counted in
 *     `oidc_token_errors_total` and logged, and never refuses anything.
 *   - Failed client authentication (`invalid_client`) is counted in Redis (shared by replicas) per
 *     client id **and** IP (`tokenFailuresPerClientIp`). Past that limit, that client id from that
 *     address only is refused (429) for `blockSeconds`, before its secret is checked: another client
 *     on the same address, and the same client on another address, are served as before. The client
 *     id comes from the Basic header, or — only while this address has a blocked pair, so normal
 *     traffic never pays for it — from the form body (`client_id`, or the `sub` of a
 *     `client_assertion`), which is then handed on to oidc-provider unread.
 *   - The same failures per IP (`tokenFailuresPerIp`) and per client id from everywhere
 *     (`tokenFailuresPerClient`) are alarms: logged once per window, never refused (a client id is
 *     public, so refusing on it would let anyone lock a client out).
 *   - Blocks are remembered in this process, so checking them costs no I/O; another replica learns
 *     of a block at the first failure it sees for that pair.
 * - Browser routes of a sign-in (/auth, /interaction/…, /session/end, /dingtalk/callback): counted per
 *   **browser** (its signed `_dt_browser` cookie, set on the login page), so that a whole office
 *   behind one NAT address is not one counter, plus one much higher ceiling per **address** over all
 *   of them (`browserPerAddress`), which a flood from one address meets whatever cookies it sends or
 *   drops. A request without the cookie (a person's first /auth and login page) meets the ceiling only.
 * - Other browser routes (/dingtalk/events, /admin/login): one per-IP limit per group, in Redis.
 *
 * Redis down: every Redis limiter has an in-memory `insuranceLimiter` and `rejectIfRedisNotReady`
 * (store/rate-limiters.ts), so an outage neither fails requests nor makes them wait; it counts in
 * `redis_errors_total`.
 *
 * Refusals are `429` with `Retry-After` (RFC 6585 §4). API routes answer an OAuth error body with
 * `temporarily_unavailable` (see `tooManyRequests`), browser routes a readable page.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Context, Middleware, Next } from 'koa';
import { LRUCache } from 'lru-cache';
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Config } from '../../config/schema.js';
import { messages, type Locale } from '../../errors/messages.js';
import type { Logger } from '../../log.js';
import type { Metrics } from '../../metrics.js';
import type { SharedLimiters } from '../../store/rate-limiters.js';
import type { PageRenderer } from '../../ui/pages.js';
import { floodWindow } from './flood-window.js';
import { under } from './route-label.js';

type Settings = Config['rateLimits'];
type LimitSettings = Settings['browser'];
type FailureLimit = 'tokenFailuresPerIp' | 'tokenFailuresPerClient' | 'tokenFailuresPerClientIp';
/** The per-IP limits of browser routes. */
export type BrowserLimit = 'browser' | 'dingtalkCallback' | 'dingtalkEvents' | 'adminLogin';
/** The per-browser limits of sign-in routes (under the `browserPerAddress` ceiling). */
export type PerBrowserLimit = 'browser' | 'dingtalkCallback';

export interface RateLimitDeps {
  settings: Settings;
  /** Where the shared counters are kept: Redis or memory (store/index.ts chooses). */
  shared: SharedLimiters;
  pages: PageRenderer;
  logger: Logger;
  metrics?: Metrics;
}

export interface RateLimits {
  /** Flood and failure limits on token-style endpoints (POST only; exact paths). */
  tokenEndpoints(paths: readonly string[]): Middleware;
  /** A per-IP limit on browser routes: each path and everything below it. */
  perIp(name: BrowserLimit, paths: readonly string[]): Middleware;
  /**
   * A per-browser limit on sign-in routes (each path and everything below it), keyed by what
   * `browserOf` finds (a hash of the browser's cookie), and the per-address ceiling
   * `browserPerAddress` shared by every `perBrowser` group.
   */
  perBrowser(name: PerBrowserLimit, paths: readonly string[], browserOf: (ctx: Context) => string | undefined): Middleware;
}

const TEXT: Record<Locale, string> = {
  'zh-CN': '请求过于频繁，请稍后再试。',
  en: 'Too many requests. Please wait a moment and try again.',
};

/** Keys of blocked failure counters known to this process, with when the block ends. */
const MAX_REMEMBERED_BLOCKS = 100_000;
/**
 * Bounded by count without `max`: lru-cache allocates `max`-long arrays up front (≈ 4 MiB per
 * cache at 100 000 with a TTL, resident from the start); `maxSize` with a size of 1 per entry is the
 * same bound, and the arrays grow with what is remembered (issue #15: idle RSS).
 */
const REMEMBERED = { maxSize: MAX_REMEMBERED_BLOCKS, sizeCalculation: () => 1 } as const;

export function createRateLimits(deps: RateLimitDeps): RateLimits {
  const { settings, shared: sharedLimiter, pages, logger, metrics } = deps;
  let lastInsuranceLog = 0;

  /** A limit whose counters replicas share (Redis, or memory without it: store/index.ts). */
  function limiter(name: string, limit: LimitSettings): RateLimiterAbstract {
    const options = {
      keyPrefix: `ratelimit:${name}`,
      points: limit.points,
      duration: limit.durationSeconds,
      blockDuration: limit.blockSeconds ?? 0,
    };
    return sharedLimiter(options, () => {
      metrics?.redisErrors.inc({ source: 'rate_limiter' });
      const now = Date.now();
      if (now - lastInsuranceLog >= 10_000) {
        lastInsuranceLog = now;
        logger.warn({ limit: name }, 'rate limits: Redis unavailable, counting in memory');
      }
    });
  }

  const flood = floodWindow(settings.tokenFlood);
  const perPair = limiter('tokenFailuresPerClientIp', settings.tokenFailuresPerClientIp);
  const alarms: Record<Exclude<FailureLimit, 'tokenFailuresPerClientIp'>, RateLimiterAbstract> = {
    tokenFailuresPerIp: limiter('tokenFailuresPerIp', { ...settings.tokenFailuresPerIp, blockSeconds: 0 }),
    tokenFailuresPerClient: limiter('tokenFailuresPerClient', { ...settings.tokenFailuresPerClient, blockSeconds: 0 }),
  };
  /** `client|ip` → when its block ends. */
  const blocked = new LRUCache<string, number>({ ...REMEMBERED, ttl: 3_600_000 });
  /** ip → when the last block of a client from it ends: whether reading a body for its client id is worth it. */
  const blockedIps = new LRUCache<string, number>({ ...REMEMBERED, ttl: 3_600_000 });
  /** Alarm keys already logged in their current window. */
  const alarmed = new LRUCache<string, true>({ ...REMEMBERED, ttl: 60_000 });
  /** One ceiling per address over every per-browser group, made at first use. */
  let ceiling: RateLimiterAbstract | undefined;

  /** Counts one request against `limits` under `key`: true to go on, false when refused (answered). */
  async function count(ctx: Context, name: string, limits: RateLimiterAbstract, key: string): Promise<boolean> {
    try {
      await limits.consume(key);
    } catch (result) {
      if (result instanceof RateLimiterRes) {
        refuse(ctx, name, result.msBeforeNext, true);
        return false;
      }
      // Redis failed and so did the insurance (cannot happen in memory): let it through.
      logger.warn({ err: result, limit: name }, 'rate limit could not be checked');
    }
    return true;
  }

  function refuse(ctx: Context, limit: string, ms: number, page: boolean): void {
    metrics?.rateLimited.inc({ limit });
    ctx.state.rateLimit = limit;
    if (page) tooManyPage(ctx, pages, ms);
    else tooManyRequests(ctx, ms);
  }

  /** A failed client authentication: counted per client and IP (which may block the pair), and as alarms. */
  async function recordAuthFailure(ip: string, clientId: string | undefined): Promise<void> {
    const counted: [Exclude<FailureLimit, 'tokenFailuresPerClientIp'>, string][] = [['tokenFailuresPerIp', ip]];
    if (clientId !== undefined) counted.push(['tokenFailuresPerClient', clientId]);
    await Promise.all([
      clientId === undefined ? undefined : countPair(ip, clientId),
      ...counted.map(async ([limit, key]) => {
        try {
          await alarms[limit].consume(key);
        } catch (result) {
          if (!(result instanceof RateLimiterRes)) {
            logger.warn({ err: result, limit }, 'rate limit could not be counted');
            return;
          }
          if (alarmed.get(`${limit}:${key}`)) return;
          alarmed.set(`${limit}:${key}`, true, { ttl: Math.max(1, result.msBeforeNext) });
          logger.warn(
            { limit, ...(limit === 'tokenFailuresPerIp' ? { ip } : { clientId }) },
            'token endpoint: many failed client authentications (counted, not refused)',
          );
        }
      }),
    ]);
  }

  async function countPair(ip: string, clientId: string): Promise<void> {
    const key = `${clientId}|${ip}`;
    try {
      await perPair.consume(key);
    } catch (result) {
      if (!(result instanceof RateLimiterRes)) {
        logger.warn({ err: result, limit: 'tokenFailuresPerClientIp' }, 'rate limit could not be counted');
        return;
      }
      const until = Date.now() + result.msBeforeNext;
      const fresh = blocked.get(key) === undefined;
      blocked.set(key, until, { ttl: Math.max(1, result.msBeforeNext) });
      if ((blockedIps.get(ip) ?? 0) < until) blockedIps.set(ip, until, { ttl: Math.max(1, result.msBeforeNext) });
      if (fresh) {
        logger.warn(
          { limit: 'tokenFailuresPerClientIp', ip, clientId, seconds: Math.ceil(result.msBeforeNext / 1000) },
          'token endpoint: client refused from this address after repeated failed authentication',
        );
      }
    }
  }

  async function guardTokenEndpoint(ctx: Context, next: Next): Promise<void> {
    const ip = ipKey(ctx.ip);
    // The client this request authenticates as, when it can be known before authentication and a
    // block could apply (none known: most of the time): the Basic header; the body only while a
    // client from this address is blocked.
    let clientId = blocked.size > 0 ? basicClientId(ctx.get('authorization')) : undefined;
    if (clientId === undefined && blockedIps.get(ip) !== undefined) clientId = await peekBodyClientId(ctx);
    if (clientId !== undefined) {
      const until = blocked.get(`${clientId}|${ip}`);
      const wait = until === undefined ? 0 : until - Date.now();
      if (wait > 0) return refuse(ctx, 'tokenFailuresPerClientIp', wait, false);
    }
    const floodWait = flood.hit(ip);
    if (floodWait > 0) return refuse(ctx, 'tokenFlood', floodWait, false);

    await next();

    const error = oauthErrorOf(ctx);
    if (error === 'invalid_grant') {
      // A stale or revoked code or refresh token: every app sends them. Counted, never refused.
      metrics?.tokenErrors.inc({ error });
    } else if (error === 'invalid_client') {
      metrics?.tokenErrors.inc({ error });
      await recordAuthFailure(ip, clientId ?? basicClientId(ctx.get('authorization')) ?? clientIdAfter(ctx));
    }
  }

  return {
    tokenEndpoints(paths) {
      if (!settings.enabled) return passThrough;
      const set = new Set(paths);
      return (ctx, next) => (ctx.method === 'POST' && set.has(ctx.path) ? guardTokenEndpoint(ctx, next) : next());
    },

    perIp(name, paths) {
      if (!settings.enabled) return passThrough;
      const limits = limiter(name, settings[name]);
      const guard = async (ctx: Context, next: Next): Promise<void> => {
        if (await count(ctx, name, limits, ipKey(ctx.ip))) await next();
      };
      const matches = under(paths);
      return (ctx, next) => (matches(ctx.path) ? guard(ctx, next) : next());
    },

    perBrowser(name, paths, browserOf) {
      if (!settings.enabled) return passThrough;
      const limits = limiter(name, settings[name]);
      ceiling ??= limiter('browserPerAddress', settings.browserPerAddress);
      const perAddress = ceiling;
      const guard = async (ctx: Context, next: Next): Promise<void> => {
        if (!(await count(ctx, 'browserPerAddress', perAddress, ipKey(ctx.ip)))) return;
        const browser = browserOf(ctx);
        if (browser === undefined || (await count(ctx, name, limits, browser))) await next();
      };
      const matches = under(paths);
      return (ctx, next) => (matches(ctx.path) ? guard(ctx, next) : next());
    },
  };
}

const passThrough: Middleware = (_ctx, next) => next();

/** `invalid_grant` or `invalid_client`, as oidc-provider answered (JSON, or an HTML page through renderError). */
function oauthErrorOf(ctx: Context): 'invalid_grant' | 'invalid_client' | undefined {
  if (ctx.status !== 400 && ctx.status !== 401) return undefined;
  const body = ctx.body as { error?: unknown } | undefined;
  // An HTML answer (Accept: text/html) went through renderError, which notes the code (provider-pages.ts).
  const error = body && typeof body === 'object' && !Buffer.isBuffer(body) ? body.error : ctx.state.oauthError;
  return error === 'invalid_grant' || error === 'invalid_client' ? error : undefined;
}

/** oidc-provider's own limit on a form body (lib/shared/selective_body.js). */
const MAX_FORM_BYTES = 56 * 1024;

/**
 * The client id of a form body (`client_id`, else the `sub` of a `client_assertion`), read before
 * oidc-provider reads the body: the bytes are then handed to it as a fresh stream on `ctx.req`, so
 * it parses them itself exactly as it would have. Bodies that are not forms, have no length or are
 * larger than oidc-provider accepts are left alone (undefined).
 */
async function peekBodyClientId(ctx: Context): Promise<string | undefined> {
  const length = ctx.request.length;
  if (ctx.method !== 'POST' || !ctx.is('application/x-www-form-urlencoded') || length === undefined || length > MAX_FORM_BYTES)
    return undefined;
  const original = ctx.req;
  const chunks: Buffer[] = [];
  let received = 0;
  try {
    for await (const chunk of original.iterator({ destroyOnReturn: false })) {
      received += (chunk as Buffer).length;
      if (received > MAX_FORM_BYTES) break;
      chunks.push(chunk as Buffer);
    }
  } catch {
    // The client went away mid-body: oidc-provider finds what arrived and answers as it would.
  }
  const raw = Buffer.concat(chunks);
  const replay = Object.assign(Readable.from([raw], { objectMode: false }), {
    headers: original.headers,
    method: original.method,
    url: original.url,
    socket: original.socket,
    httpVersion: original.httpVersion,
  });
  ctx.req = replay as unknown as typeof ctx.req;
  const params = new URLSearchParams(raw.toString('utf8'));
  const id = params.get('client_id') ?? assertionSubject(params.get('client_assertion'));
  return id ? clientKey(id) : undefined;
}

/** The `sub` of a JWT client assertion (RFC 7523 §3: the client id), unverified: only a counter key. */
function assertionSubject(assertion: string | null): string | undefined {
  const payload = assertion?.split('.')[1];
  if (!payload) return undefined;
  try {
    const sub = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub?: unknown }).sub;
    return typeof sub === 'string' && sub !== '' ? sub : undefined;
  } catch {
    return undefined;
  }
}

/** The client a finished token-endpoint request was about: the authenticated one, or the body's `client_id`. */
function clientIdAfter(ctx: Context): string | undefined {
  const oidc = (ctx as Context & { oidc?: { client?: { clientId?: unknown }; body?: Record<string, unknown> } }).oidc;
  const id = oidc?.client?.clientId ?? oidc?.body?.client_id;
  return typeof id === 'string' && id !== '' ? clientKey(id) : undefined;
}

/** The client id of `Authorization: Basic …` (RFC 6749 §2.3.1: form-encoded, then Base64). */
export function basicClientId(header: string): string | undefined {
  if (header.length < 8 || header.slice(0, 6).toLowerCase() !== 'basic ') return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  try {
    return clientKey(decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, '%20')));
  } catch {
    return undefined;
  }
}

/** A client id as a counter key: itself when short and printable, else a digest (bounded Redis keys). */
function clientKey(id: string): string {
  return /^[\x21-\x7e]{1,128}$/.test(id) ? id : `#${createHash('sha256').update(id).digest('base64url').slice(0, 32)}`;
}

/**
 * The address a limit counts: IPv4 as is, IPv6 by its /64 (one subscriber usually holds a whole
 * /64, so counting single addresses would let one client rotate through billions).
 */
export function ipKey(ip: string): string {
  if (!ip.includes(':')) return ip;
  if (/^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(ip)) return ip.slice(7);
  const address = ip.split('%')[0]!.toLowerCase();
  const [head = '', tail] = address.split('::', 2);
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  const prefix = groups.slice(0, 4).map((group) => (Number.parseInt(group, 16) || 0).toString(16));
  while (prefix.length < 4) prefix.push('0');
  return `${prefix.join(':')}::/64`;
}

/**
 * 429 for an API client: `Retry-After` (RFC 6585 §4, RFC 9110 §10.2.3) and an OAuth error body.
 * `temporarily_unavailable` is the one registered OAuth error code that means "try again later"
 * (RFC 6749 §4.1.2.1: "unable to handle the request due to a temporary overloading"); the token
 * endpoint's own codes (§5.2) all say the request itself is wrong, so a client that sees them does
 * not retry, and `slow_down` belongs to device-flow polling (RFC 8628 §3.5).
 */
export function tooManyRequests(ctx: Context, ms: number): void {
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  ctx.status = 429;
  ctx.set('Retry-After', String(seconds));
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { error: 'temporarily_unavailable', error_description: `too many requests: retry after ${seconds} s` };
}

/** 429 for a person: the error page (or `{ code, message }` for a client that asked for JSON). */
function tooManyPage(ctx: Context, pages: PageRenderer, ms: number): void {
  const locale = pages.localeOf(ctx.get('accept-language'));
  ctx.status = 429;
  ctx.set('Retry-After', String(Math.max(1, Math.ceil(ms / 1000))));
  ctx.set('Cache-Control', 'no-store');
  if (ctx.accepts('html', 'json') === 'json') {
    ctx.body = { code: 'rate_limited', message: TEXT[locale] };
    return;
  }
  ctx.type = 'html';
  ctx.body = pages.render('error', locale, { title: messages(locale).errorTitle, message: TEXT[locale], code: 'rate_limited' });
}
