import { Router } from '@koa/router';
import { isRecord, readJsonObject, sendApi, sendApiError } from '../http.js';
import type { EmulatorState } from '../state.js';
import { STREAM_CONNECT_PATH, STREAM_OPEN_PATH, type StreamSubscription } from './types.js';

/** Where tickets come from: the gateway's `issueTicket`. */
export interface TicketIssuer {
  issueTicket(subscriptions: StreamSubscription[], ua?: string): string;
}

/**
 * Router for `POST /v1.0/gateway/connections/open` {clientId, clientSecret, subscriptions, ua?, localIp?}
 * → 200 `{endpoint, ticket}`; wrong credentials → 401 `{requestid, code: "authFailed", message}` (§10.1).
 * `endpointBase` is the emulator's public base URL (http… → ws…); default: the request's own origin.
 */
export function createStreamRouter(state: EmulatorState, issuer: TicketIssuer, endpointBase?: string): Router {
  const router = new Router();
  router.post(STREAM_OPEN_PATH, async (ctx) => {
    const body = await readJsonObject(ctx);
    if (body === undefined) return sendApiError(ctx, 400, 'Missingbody', 'body is missing');
    if (body.clientId !== state.clientId || body.clientSecret !== state.clientSecret) {
      return sendApiError(ctx, 401, 'authFailed', '鉴权失败');
    }
    const subscriptions = readSubscriptions(body.subscriptions);
    // Not documented (§10.8): a malformed or empty subscription list gets the generic parameter error.
    if (subscriptions === undefined) return sendApiError(ctx, 400, 'InvalidParameter', 'subscriptions is invalid');
    const ticket = issuer.issueTicket(subscriptions, typeof body.ua === 'string' ? body.ua : undefined);
    const base = (endpointBase ?? `${ctx.protocol}://${ctx.host}`).replace(/^http/, 'ws').replace(/\/+$/, '');
    sendApi(ctx, 200, { endpoint: `${base}${STREAM_CONNECT_PATH}`, ticket });
  });
  return router;
}

function readSubscriptions(value: unknown): StreamSubscription[] | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const out: StreamSubscription[] = [];
  for (const item of value) {
    if (!isRecord(item) || typeof item.type !== 'string' || typeof item.topic !== 'string') return undefined;
    if (!['EVENT', 'CALLBACK', 'SYSTEM'].includes(item.type)) return undefined;
    out.push({ type: item.type, topic: item.topic });
  }
  return out;
}
