import { randomUUID } from 'node:crypto';
import type { Context, Middleware, Next } from 'koa';
import { type Logger, runInRequest, withoutRedaction } from '../../log.js';
import { methodOf, routeOf } from './route-label.js';

declare module 'koa' {
  interface DefaultState {
    /** This request's id (also in the response header and on every log line). */
    requestId?: string;
    /** The logger for this request; its lines carry the request id. */
    log?: Logger;
    /** The limit that refused this request (rate-limit.ts), for the access log. */
    rateLimit?: string;
  }
}

/** An incoming id is kept only when it is short and plain (no spaces, quotes or control characters). */
const VALID_ID = /^[A-Za-z0-9._:+/=-]{1,128}$/;

/** Told about every finished request (http metrics); must not throw. */
export type RequestObserver = (ctx: Context, done: { route: string; status: number; seconds: number }) => void;

export interface RequestIdOptions {
  /** The request id header (config `requestIdHeader`, `X-Request-Id`). */
  header: string;
  logger: Logger;
  observe?: RequestObserver;
}

/** Probes and scrapes: logged at debug, so a probe every few seconds does not drown the log. */
const QUIET_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Outermost: gives the request an id (a valid incoming `X-Request-Id`, e.g. from the load
 * balancer, or a new UUID), echoes it in the response, and runs the rest of the chain in a request
 * context, so that every log line written on its behalf carries `reqId` (log.ts), whichever logger
 * wrote it — the DingTalk client's calls, oidc-provider's event listeners and the audit log included.
 *
 * When the request is done it writes the access line — method, route template, status, duration,
 * client address; never the query string (codes, tokens, states), never headers (Authorization,
 * cookies), and the raw path only when no route matched (then it names nothing of ours), cut to
 * 200 characters — and tells `observe` (metrics). One async frame for all three: this runs on
 * every token and introspection call.
 */
export function requestId(options: RequestIdOptions): Middleware {
  const { header, logger, observe } = options;
  // The access line's fields are all ours (no header, query or body): no redaction pass needed.
  const accessLog = withoutRedaction(logger);
  return (ctx, next) => {
    const incoming = ctx.get(header);
    const id = incoming && VALID_ID.test(incoming) ? incoming : randomUUID();
    ctx.set(header, id);
    ctx.state.requestId = id;
    ctx.state.log = logger;
    return runInRequest(ctx, () => served(ctx, next, accessLog, observe));
  };
}

async function served(ctx: Context, next: Next, logger: Logger, observe: RequestObserver | undefined): Promise<void> {
  const started = performance.now();
  let failed = false;
  try {
    await next();
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    const elapsed = performance.now() - started;
    const status = failed ? 500 : ctx.status;
    const route = routeOf(ctx);
    const level = QUIET_PATHS.has(ctx.path) ? 'debug' : status >= 500 ? 'warn' : 'info';
    if (logger.isLevelEnabled(level)) {
      const line: Record<string, unknown> = { method: methodOf(ctx), route, status, ms: Math.round(elapsed * 10) / 10, ip: ctx.ip };
      if (route === 'unmatched') line.path = ctx.path.slice(0, 200);
      if (ctx.state.rateLimit) line.limit = ctx.state.rateLimit;
      logger[level](line, 'request');
    }
    observe?.(ctx, { route, status, seconds: elapsed / 1000 });
  }
}
