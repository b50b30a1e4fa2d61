import { request, type Dispatcher } from 'undici';
import { decryptEvent, encryptEvent, randomAscii, signEvent, type EventSubscription } from './event-crypto.js';
import { isRecord } from './http.js';

/** Settings of one push: the subscription's token, EncodingAESKey and owner key (the AppKey). */
export interface PushEventOptions extends EventSubscription {
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
  const timestamp = options.timestamp ?? String(Date.now());
  const nonce = options.nonce ?? randomAscii(8);
  const encrypt = encryptEvent(options, typeof event === 'string' ? event : JSON.stringify(event));
  const signature = signEvent(options, timestamp, nonce, encrypt);
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
  const reply = readReply(json);
  if (reply === undefined) return { accepted: false, status, reason: 'bad-reply-shape' };
  if (signEvent(options, reply.timeStamp, reply.nonce, reply.encrypt) !== reply.msg_signature.toLowerCase()) {
    return { accepted: false, status, reason: 'bad-reply-signature' };
  }
  const plaintext = decryptEvent(options, reply.encrypt);
  if (plaintext === undefined) return { accepted: false, status, reason: 'bad-reply-payload' };
  return plaintext === 'success'
    ? { accepted: true, status, reply: plaintext }
    : { accepted: false, status, reason: 'not-success', reply: plaintext };
}

/**
 * The reply §5.1 asks for: `{"msg_signature","timeStamp","nonce","encrypt"}`, all strings (a numeric
 * `timeStamp` is read as its decimal text, as a JSON reader on DingTalk's side would).
 */
function readReply(json: unknown): { msg_signature: string; timeStamp: string; nonce: string; encrypt: string } | undefined {
  if (!isRecord(json)) return undefined;
  const { msg_signature: signature, timeStamp, nonce, encrypt } = json;
  const time = typeof timeStamp === 'number' ? String(timeStamp) : timeStamp;
  if (typeof signature !== 'string' || typeof time !== 'string' || typeof nonce !== 'string' || typeof encrypt !== 'string') {
    return undefined;
  }
  return { msg_signature: signature, timeStamp: time, nonce, encrypt };
}
