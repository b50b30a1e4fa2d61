import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import { hostOf, sendApi, sendApiError, sendOapi, sendOapiAuthError, sendOapiError } from './http.js';
import type { EmulatorFault, EmulatorState } from './state.js';

/**
 * Middleware: apply the next fault queued by `state.failNext` for this path, if any, in the shape the
 * path's host really uses (§1.5, §2.5, §6.1).
 */
export function faultInjection(state: EmulatorState) {
  return async function injectFault(ctx: Context, next: Next): Promise<void> {
    const fault = state.takeFault(ctx.path);
    if (fault === undefined) {
      await next();
      return;
    }
    if (typeof fault === 'object' && fault.kind === 'delay') {
      await sleep(fault.ms);
      await next();
      return;
    }
    answerFault(ctx, fault);
  };
}

/**
 * Middleware: the per-address block on api and oapi paths (§6.1: 10 000 requests in 20 s block the
 * egress address for 5 minutes). A blocked address gets, instead of an error code, the JSON
 * `{"status":1111,"wait":…,"source":"x5","punish":"deny","uuid":…}` with HTTP 200 (DingTalk also
 * sends an HTML page; which one, and with which status, is not documented).
 */
export function addressLimit(state: EmulatorState) {
  return async function limitAddress(ctx: Context, next: Next): Promise<void> {
    if (!isApiHost(ctx.path)) {
      await next();
      return;
    }
    const blockedUntil = state.admitAddress(ctx.request.socket.remoteAddress ?? ctx.ip);
    if (blockedUntil === undefined) {
      await next();
      return;
    }
    ctx.status = 200;
    ctx.set('Content-Type', 'application/json');
    ctx.body = JSON.stringify({
      status: 1111,
      wait: Math.ceil((blockedUntil - state.now()) / 60_000),
      source: 'x5',
      punish: 'deny',
      uuid: randomUUID(),
    });
  };
}

/**
 * Middleware: per-API calls per second on api and oapi paths (§6.1: 20/s for a standard org). Over
 * it, api answers 403 `QpsLimitForAppkeyAndApi`; oapi answers `90018`, or — `throttleErrcode` 88 —
 * the "momentary ban after calling too fast" of §2.5, errcode 88 without a `sub_code` (the emulator's
 * rendering: a client that reads every 88 as a bad token must not get away with it).
 */
export function qpsLimit(state: EmulatorState) {
  return async function limitQps(ctx: Context, next: Next): Promise<void> {
    if (!isApiHost(ctx.path) || state.admitCall(`${ctx.method} ${ctx.path}`)) {
      await next();
      return;
    }
    if (hostOf(ctx.path) === 'api') {
      return sendApiError(ctx, 403, 'Forbidden.AccessDenied.QpsLimitForAppkeyAndApi', '应用调用该接口的并发量超过限制');
    }
    if (state.throttleErrcode === 88) return sendOapiError(ctx, 88, '调用太频繁，请稍后再试');
    sendOapiError(ctx, 90018, '当前应用调用该接口的并发量超过限制，请稍后再试');
  };
}

function isApiHost(path: string): boolean {
  const host = hostOf(path);
  return host === 'api' || host === 'oapi';
}

function answerFault(ctx: Context, fault: Exclude<EmulatorFault, { kind: 'delay' }>): void {
  const api = hostOf(ctx.path) === 'api';
  const kind = typeof fault === 'string' ? fault : fault.kind;
  switch (kind) {
    case 'busy':
      if (api) return sendApiError(ctx, 503, 'ServiceUnavailable', 'The request has failed due to a temporary failure.');
      return sendOapiError(ctx, -1, '系统繁忙');
    case 'timeout':
      // DingTalk's gateway gives calls a 3 s budget: 504 on api, errcode 15 on oapi (§6.1).
      if (api) return sendApiError(ctx, 504, 'GatewayTimeout', 'The request to the backend service timed out.');
      return sendOapiError(ctx, 15, 'Remote service error', {
        sub_code: 'isp.top-remote-connection-timeout',
        sub_msg: '远程服务调用超时',
      });
    case 'server-error': {
      const status = typeof fault === 'object' && fault.kind === 'server-error' ? fault.status : 500;
      if (api) return sendApiError(ctx, status, 'InternalError', 'The request processing has failed.');
      ctx.status = status;
      ctx.type = 'text/html; charset=utf-8';
      ctx.body = `<html><head><title>${status}</title></head><body><h1>${status}</h1><hr>Tengine</body></html>`;
      return;
    }
    case 'throttle':
      if (api) return sendApiError(ctx, 403, 'Forbidden.AccessDenied.QpsLimitForAppkeyAndApi', '应用调用该接口的并发量超过限制');
      return sendOapiError(ctx, 90018, '当前应用调用该接口的并发量超过限制，请稍后再试');
    case 'invalid-token':
      if (api) return sendApiError(ctx, 400, 'InvalidAuthentication', '不合法的access_token');
      return sendOapiAuthError(ctx, '40014', '不合法的access_token');
    case 'reset':
      ctx.respond = false;
      ctx.req.socket.destroy();
      return;
    case 'malformed':
      ctx.status = 200;
      ctx.type = 'text/html; charset=utf-8';
      ctx.body = '<html><body>访问被拒绝 / Access denied</body></html>';
      return;
    case 'respond': {
      if (typeof fault !== 'object' || fault.kind !== 'respond') return;
      if (api) {
        sendApi(ctx, fault.status, fault.body);
        return;
      }
      ctx.status = fault.status;
      ctx.body = JSON.stringify(fault.body);
      ctx.set('Content-Type', 'application/json');
      return;
    }
    default:
      return sendOapi(ctx, {});
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => {
    // Unref'd so a test run never waits on a request the client already gave up on.
    setTimeout(resolve, ms).unref();
  });
}
