/**
 * Registration of a Stream connection (dingtalk-api.md §10.1): `POST /v1.0/gateway/connections/open`
 * with the app's Client ID and secret and the subscription `EVENT *` → `{endpoint, ticket}`. A ticket
 * opens one connection, so every (re)connect asks for a new one.
 */
import { request, type Dispatcher } from 'undici';
import { z } from 'zod';
import { dingTalkError, mapApiError, mapTransportError } from './errors.js';
import { apiErrorSchema } from './schemas.js';

/** Where the connection registration lives on api.dingtalk.com (§10.1). */
export const STREAM_OPEN_PATH = '/v1.0/gateway/connections/open';
/** `UpstreamError.operation` of the registration call. */
export const STREAM_OPEN_OPERATION = 'dingtalk.stream_open';

export interface StreamOpenOptions {
  clientId: string;
  clientSecret: string;
  /** e.g. `https://api.dingtalk.com` (DINGTALK_API_BASE_URL). */
  apiBaseUrl: string;
  /** Deadline of the call. */
  timeoutMs: number;
  /** `ua` of the registration: who we are, for DingTalk's troubleshooting. */
  ua: string;
  /** undici dispatcher; default: undici's global one. */
  dispatcher?: Dispatcher;
}

const openAnswerSchema = z.object({
  endpoint: z.string().regex(/^wss?:\/\//, 'must be a ws(s) URL'),
  ticket: z.string().min(1),
});

/** Registration: a fresh `endpoint?ticket=…` (§10.1). Throws `UpstreamError`. */
export async function openStreamTicket(options: StreamOpenOptions): Promise<URL> {
  const spec = { operation: STREAM_OPEN_OPERATION };
  let statusCode: number;
  let text: string;
  try {
    const response = await request(new URL(joinUrl(options.apiBaseUrl, STREAM_OPEN_PATH)), {
      method: 'POST',
      // Without Accept the gateway answers XML (§10.1).
      headers: { accept: 'application/json', 'content-type': 'application/json' },
      body: JSON.stringify({
        clientId: options.clientId,
        clientSecret: options.clientSecret,
        subscriptions: [{ type: 'EVENT', topic: '*' }],
        ua: options.ua,
      }),
      signal: AbortSignal.timeout(options.timeoutMs),
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      ...(options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher }),
    });
    statusCode = response.statusCode;
    text = await response.body.text();
  } catch (error) {
    throw mapTransportError(error, spec);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (statusCode < 200 || statusCode >= 300) {
    const body = apiErrorSchema.safeParse(json);
    throw mapApiError(statusCode, body.success ? body.data : undefined, spec, json ?? text.slice(0, 500));
  }
  const answer = openAnswerSchema.safeParse(json);
  if (!answer.success) {
    // The body may hold a ticket (a credential for one connection): never logged.
    const body =
      json !== null && typeof json === 'object' && !Array.isArray(json)
        ? withoutTicket(json as Record<string, unknown>)
        : (json ?? text.slice(0, 500));
    throw dingTalkError('dingtalk.bad_response', STREAM_OPEN_OPERATION, { host: 'api', httpStatus: statusCode, body });
  }
  const url = new URL(answer.data.endpoint);
  url.searchParams.set('ticket', answer.data.ticket);
  return url;
}

function withoutTicket(body: Record<string, unknown>): Record<string, unknown> {
  const { ticket, ...rest } = body;
  return ticket === undefined ? rest : { ...rest, ticket: '[redacted]' };
}

function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}${path}`;
}
