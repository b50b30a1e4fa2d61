import { request, type Dispatcher } from 'undici';
import { createEventCrypto, randomAlphanumeric, type EventCryptoOptions } from '../dingtalk/event-crypto.js';
import { eventReplySchema } from '../dingtalk/schemas.js';

/** Settings of one push: the subscription's token, EncodingAESKey and owner key (the AppKey). */
export interface PushEventOptions extends EventCryptoOptions {
  /** Fixed only in tests; default: now (ms). */
  timestamp?: string;
  /** Fixed only in tests; default: 8 random characters. */
  nonce?: string;
  /** Default 5000 ms. */
  timeoutMs?: number;
  dispatcher?: Dispatcher;
}

/** Outcome of a push, as DingTalk would judge it. */
export interface PushEventResult {
  /** True when the receiver answered 200 with a valid encrypted `success`. */
  accepted: boolean;
  status: number;
  /** Why the push counts as failed. */
  reason?: 'http-status' | 'not-json' | 'bad-reply-shape' | 'bad-reply-signature' | 'bad-reply-payload' | 'not-success' | 'network';
  /** The decrypted reply, when it could be decrypted. */
  reply?: string;
}

/** A contact event body: `{"EventType","UserId":[…],"CorpId","TimeStamp":"<ms>"}` (userids, not unionIds). */
export function contactEvent(
  type: 'user_add_org' | 'user_modify_org' | 'user_leave_org' | 'user_active_org' | 'org_admin_add' | 'org_admin_remove',
  userIds: readonly string[],
  corpId: string,
  now: number = Date.now(),
): Record<string, unknown> {
  return { EventType: type, UserId: [...userIds], CorpId: corpId, TimeStamp: String(now) };
}

/**
 * Pushes `event` (an object, JSON-encoded, or a ready string) the way DingTalk's HTTP event
 * subscription does (§5.1): POST `<url>?signature=…&msg_signature=…&timestamp=<ms>&nonce=…` with body
 * `{"encrypt": "…"}`. The push counts as accepted only if the reply is a correctly signed encryption
 * of `success`.
 */
export async function pushEvent(url: string, event: Record<string, unknown> | string, options: PushEventOptions): Promise<PushEventResult> {
  const crypto = createEventCrypto(options);
  const timestamp = options.timestamp ?? String(Date.now());
  const nonce = options.nonce ?? randomAlphanumeric(8);
  const encrypt = crypto.encrypt(typeof event === 'string' ? event : JSON.stringify(event));
  const signature = crypto.sign(timestamp, nonce, encrypt);
  const target = new URL(url);
  // Both names carry the same signature: receivers read one or the other (§5.1).
  target.searchParams.set('signature', signature);
  target.searchParams.set('msg_signature', signature);
  target.searchParams.set('timestamp', timestamp);
  target.searchParams.set('nonce', nonce);

  let status: number;
  let text: string;
  try {
    const response = await request(target, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ encrypt }),
      signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
      ...(options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher }),
    });
    status = response.statusCode;
    text = await response.body.text();
  } catch {
    return { accepted: false, status: 0, reason: 'network' };
  }
  if (status !== 200) return { accepted: false, status, reason: 'http-status' };

  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { accepted: false, status, reason: 'not-json' };
  }
  const reply = eventReplySchema.safeParse(json);
  if (!reply.success) return { accepted: false, status, reason: 'bad-reply-shape' };
  const { msg_signature: replySignature, timeStamp, nonce: replyNonce, encrypt: replyEncrypt } = reply.data;
  if (!crypto.verify(replySignature, timeStamp, replyNonce, replyEncrypt)) {
    return { accepted: false, status, reason: 'bad-reply-signature' };
  }
  let plaintext: string;
  try {
    plaintext = crypto.decrypt(replyEncrypt);
  } catch {
    return { accepted: false, status, reason: 'bad-reply-payload' };
  }
  return plaintext === 'success'
    ? { accepted: true, status, reply: plaintext }
    : { accepted: false, status, reason: 'not-success', reply: plaintext };
}
