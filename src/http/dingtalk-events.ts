import Router from '@koa/router';
import type { Context } from 'koa';

import { createEventCrypto, eventRequestBodySchema, parseHttpPush, type EventCrypto, type EventSink } from '../dingtalk/index.js';
import type { Logger } from '../log.js';

/** Where DingTalk pushes events (DESIGN.md contract). */
export const DINGTALK_EVENTS_PATH = '/dingtalk/events';

/** Largest body accepted: an event is a few hundred bytes of Base64. */
const MAX_BODY_BYTES = 64 * 1024;
/**
 * How old a push's `timestamp` may be: less than the event inbox keeps handled events (30 days), so
 * a captured push replayed later is either refused here or recognised as a duplicate — never redone.
 */
const MAX_AGE_MS = 24 * 60 * 60 * 1000;
/** How far ahead of our clock a push may be stamped. */
const MAX_SKEW_MS = 60 * 60 * 1000;

export interface DingTalkEventsOptions {
  /** DINGTALK_EVENT_TOKEN. */
  token: string;
  /** DINGTALK_EVENT_AES_KEY (43 characters). */
  aesKey: string;
  /** The DingTalk app's Client ID (DINGTALK_CLIENT_ID): the owner key of console-configured subscriptions (§5.1). */
  ownerKey: string;
  /** Where verified, decrypted events go: the event inbox's `receive` (accounts/inbox/). */
  sink: EventSink;
  logger: Logger;
  /** Clock, for tests. */
  now?: () => number;
}

/**
 * POST /dingtalk/events — DingTalk's encrypted HTTP event push (dingtalk-api.md §5.1): query
 * `signature` (or `msg_signature`), `timestamp` (ms), `nonce`; body `{"encrypt"}`. The signature is
 * checked before anything is decrypted; the decrypted event is handed to the sink (the event inbox,
 * which records it and does the urgent part) and answered with the encrypted, signed `success`
 * DingTalk waits for (else it redelivers). `check_url` (saving the URL in the console) gets the same
 * answer. A payload that is authentic but cannot be read as an event is still handed over (the
 * inbox records it as failed) and acknowledged: answering an error would make DingTalk re-send it
 * forever.
 *
 * Answers: 400 for a malformed request, 403 for a bad signature or a stale timestamp (JSON, no
 * details), 503 when the inbox answered `LATER` (PostgreSQL or Redis unavailable: DingTalk will try
 * again), never a 500. Throws `ConfigError` at construction for a malformed EncodingAESKey.
 */
export function createDingTalkEventsRouter(options: DingTalkEventsOptions): Router {
  const crypto = createEventCrypto({ token: options.token, aesKey: options.aesKey, ownerKey: options.ownerKey });
  const now = options.now ?? Date.now;
  const router = new Router();
  router.post(DINGTALK_EVENTS_PATH, async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    try {
      await receive(ctx, crypto, options, now);
    } catch (error) {
      options.logger.error({ err: error }, 'DingTalk event could not be handled');
      reply(ctx, 503, { code: 'temporarily_unavailable' });
    }
  });
  return router;
}

async function receive(ctx: Context, crypto: EventCrypto, options: DingTalkEventsOptions, now: () => number): Promise<void> {
  const { logger } = options;
  const signature = firstString(ctx.query.msg_signature) ?? firstString(ctx.query.signature);
  const timestamp = firstString(ctx.query.timestamp);
  const nonce = firstString(ctx.query.nonce);
  if (!signature || !timestamp || !nonce) return badRequest(ctx, logger, 'missing signature, timestamp or nonce');

  const raw = await readBody(ctx);
  if (raw === undefined) return badRequest(ctx, logger, 'body too large');
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return badRequest(ctx, logger, 'body is not JSON');
  }
  const body = eventRequestBodySchema.safeParse(json);
  if (!body.success) return badRequest(ctx, logger, 'body has no encrypt');

  if (!crypto.verify(signature, timestamp, nonce, body.data.encrypt)) {
    logger.warn({ ip: ctx.ip }, 'DingTalk event refused: bad signature');
    return reply(ctx, 403, { code: 'forbidden' });
  }
  if (!isFresh(timestamp, now())) {
    logger.warn({ ip: ctx.ip, timestamp }, 'DingTalk event refused: timestamp out of range');
    return reply(ctx, 403, { code: 'forbidden' });
  }

  let plaintext: string;
  try {
    plaintext = crypto.decrypt(body.data.encrypt);
  } catch {
    // Signed with our token but not encrypted for this app: a wrong EncodingAESKey or owner key.
    return badRequest(ctx, logger, "payload cannot be decrypted with this app's key");
  }
  const push = parseHttpPush(plaintext);
  if (push.kind === 'check_url') {
    logger.info('DingTalk check_url answered');
    return reply(ctx, 200, crypto.encryptedReply('success'));
  }
  const ack = await options.sink(push.event);
  if (ack === 'LATER') return reply(ctx, 503, { code: 'temporarily_unavailable' });
  reply(ctx, 200, crypto.encryptedReply('success'));
}

function reply(ctx: Context, status: number, body: unknown): void {
  ctx.status = status;
  ctx.type = 'json';
  ctx.body = body;
}

function badRequest(ctx: Context, logger: Logger, reason: string): void {
  logger.info({ ip: ctx.ip, reason }, 'DingTalk event refused');
  reply(ctx, 400, { code: 'bad_request' });
}

function firstString(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first === '' ? undefined : first;
}

/** `timestamp` is in ms (§5.1); a value in seconds is accepted too rather than refusing every push. */
function isFresh(timestamp: string, now: number): boolean {
  if (!/^\d{1,16}$/.test(timestamp)) return false;
  let at = Number(timestamp);
  if (at < 1e12) at *= 1000;
  return now - at <= MAX_AGE_MS && at - now <= MAX_SKEW_MS;
}

/** The raw body, or `undefined` beyond {@link MAX_BODY_BYTES}. A body parser in front of us wins. */
async function readBody(ctx: Context): Promise<string | undefined> {
  const parsed = (ctx.request as { body?: unknown }).body;
  if (parsed !== undefined) return typeof parsed === 'string' ? parsed : JSON.stringify(parsed);
  const declared = Number(ctx.get('content-length'));
  if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
