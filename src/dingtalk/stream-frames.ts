/**
 * DingTalk Stream mode frames (dingtalk-api.md §10.3–§10.5), pure: what a pushed text frame means,
 * and the reply frames we send back. The connection itself is in stream-client.ts; what is done
 * with each frame, in stream-frame-handler.ts.
 *
 * A push is `{specVersion, type, headers, data}` with `data` a JSON **string** (parsed a second
 * time); header values are strings. An `EVENT` push becomes our `DirectoryEvent` (id = `eventId`,
 * organisation = the `eventCorpId` header, else `corpId`/`CorpId` in the data, people = `userId`
 * (or `userIds`/`UserId`: the leave event's data is unverified, §10.8), departments = `deptId`:
 * Stream data is camelCase, unlike the HTTP push's `UserId`/`DeptId`, §10.7/5). An event that came over our
 * authenticated connection but cannot be read is an `UnreadableEvent`: recorded as failed and
 * acknowledged, never answered `LATER` (which would only buy redeliveries, §10.7/3).
 */
import { z } from 'zod';
import type { DirectoryEvent, EventAck, UnreadableEvent } from './directory-event.js';

/**
 * One push as it arrived, after the first JSON parse. Lenient where leniency cannot hurt, so that a
 * ping is still answered and an event still recorded and acked: header values are strings (§10.3),
 * numbers and booleans are read as strings and other values (null, objects) dropped; `specVersion`
 * is not looked at; `data` that is not a string (an object, null) is turned back into JSON text.
 */
const frameSchema = z.object({
  specVersion: z.unknown().optional(),
  type: z.string(),
  headers: z
    .record(z.string(), z.unknown())
    .transform(
      (headers) =>
        Object.fromEntries(
          Object.entries(headers).flatMap(([name, value]) =>
            typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? [[name, String(value)]] : [],
          ),
        ) as Record<string, string>,
    ),
  data: z
    .unknown()
    .optional()
    .transform((data) => (data === undefined || typeof data === 'string' ? data : JSON.stringify(data))),
});

export type StreamHeaders = Record<string, string>;

/** What one pushed text frame means to us. */
export type StreamPush =
  /** SYSTEM `ping`: answer at once with its `opaque` (pingReply). */
  | { kind: 'ping'; messageId: string; data: string }
  /** SYSTEM `disconnect`: DingTalk will close this connection; open a new one with a new ticket. */
  | { kind: 'disconnect'; messageId: string; reason?: string }
  /** Another SYSTEM topic (the Node SDK names CONNECTED, REGISTERED, KEEPALIVE, §10.5): no reply. */
  | { kind: 'system'; messageId: string; topic: string }
  /** An EVENT push, read or not: hand it to the sink, then ack with the sink's answer. */
  | { kind: 'event'; messageId: string; event: DirectoryEvent | UnreadableEvent }
  /** A CALLBACK (bots, cards) or an unknown type: we subscribe to none, answer 404. */
  | { kind: 'unsupported'; messageId: string; type: string; topic?: string }
  /** Not a frame we can answer (no JSON, no `messageId`): nothing can be sent back. */
  | { kind: 'invalid'; reason: string };

/** Reads one text frame from DingTalk's Stream gateway. Never throws. */
export function parseStreamFrame(text: string): StreamPush {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { kind: 'invalid', reason: 'frame is not JSON' };
  }
  const parsed = frameSchema.safeParse(json);
  if (!parsed.success) return { kind: 'invalid', reason: 'frame has no type or headers' };
  const frame = parsed.data;
  const messageId = frame.headers.messageId;
  if (!messageId) return { kind: 'invalid', reason: 'frame has no messageId' };
  const topic = frame.headers.topic;

  if (frame.type === 'SYSTEM') {
    if (topic === 'ping') return { kind: 'ping', messageId, data: frame.data ?? '{}' };
    if (topic === 'disconnect') {
      const reason = readObject(frame.data)?.reason;
      return { kind: 'disconnect', messageId, ...(typeof reason === 'string' ? { reason: reason.slice(0, 200) } : {}) };
    }
    return { kind: 'system', messageId, topic: topic ?? '' };
  }
  if (frame.type === 'EVENT') return { kind: 'event', messageId, event: readEvent(frame.headers, frame.data, messageId) };
  return { kind: 'unsupported', messageId, type: frame.type, ...(topic === undefined ? {} : { topic }) };
}

/** People: an array of userid strings (numbers read as strings), or a lone string. */
const userIdsSchema = z
  .union([z.array(z.union([z.string().min(1), z.number().int()])), z.string().min(1)])
  .transform((value) => (Array.isArray(value) ? value : [value]).map(String));

/** Departments (by analogy with the HTTP push's `DeptId`): numbers, or numeric strings as some payloads send them. */
const deptIdsSchema = z
  .union([z.array(z.union([z.number().int(), z.string().regex(/^\d+$/)])), z.number().int()])
  .transform((value) => (Array.isArray(value) ? value : [value]).map(Number));

/**
 * `userId` (§10.3: an array of userid strings). `user_leave_org`'s Stream data is unverified
 * (§10.8), so `userIds` and the HTTP push's `UserId` are read too, the first present wins; a people
 * field of the wrong shape makes the event unreadable. `deptId`, `timeStamp` and a corp id in the
 * data are only read when well-formed: junk there never sinks an event whose people are fine (a
 * department event with a malformed `deptId` is unreadable, see readEvent).
 */
const eventDataSchema = z.looseObject({
  userId: userIdsSchema.optional(),
  userIds: userIdsSchema.optional(),
  UserId: userIdsSchema.optional(),
  deptId: z.unknown().optional(),
  timeStamp: z.union([z.string(), z.number()]).optional().catch(undefined),
  corpId: z.string().min(1).optional().catch(undefined),
  CorpId: z.string().min(1).optional().catch(undefined),
});

function readEvent(headers: StreamHeaders, data: string | undefined, messageId: string): DirectoryEvent | UnreadableEvent {
  // eventId is the event's own id (redeliveries keep it, §10.4); messageId only names this push.
  const id = headers.eventId || messageId;
  const unreadable = (reason: string, raw: unknown): UnreadableEvent => ({ id, transport: 'stream', reason, raw: { headers, data: raw } });
  const type = headers.eventType;
  if (!type) return unreadable('event has no eventType', data);
  let payload: unknown;
  try {
    payload = JSON.parse(data ?? '');
  } catch {
    return unreadable('event data is not JSON', data);
  }
  const parsed = eventDataSchema.safeParse(payload);
  if (!parsed.success) {
    const field = parsed.error.issues[0]?.path[0];
    return unreadable(
      field === undefined ? 'event data is not a JSON object' : `event data field ${String(field)} has the wrong shape`,
      payload,
    );
  }
  const depts = deptIdsSchema.optional().safeParse(parsed.data.deptId);
  if (!depts.success && type.startsWith('org_dept_')) return unreadable('event data field deptId has the wrong shape', payload);
  const occurredAt = toEpochMs(headers.eventBornTime) ?? toEpochMs(parsed.data.timeStamp);
  // The organisation is the eventCorpId header (§10.3); a corp id in the data is the fallback.
  const corpId = headers.eventCorpId || parsed.data.corpId || parsed.data.CorpId;
  return {
    id,
    transport: 'stream',
    type,
    ...(corpId ? { corpId } : {}),
    userIds: parsed.data.userId ?? parsed.data.userIds ?? parsed.data.UserId ?? [],
    departmentIds: (depts.success ? depts.data : undefined) ?? [],
    ...(occurredAt === undefined ? {} : { occurredAt }),
    raw: { headers, data: payload },
  };
}

/** Reply frame (§10.4): `data` is a JSON string, `messageId` copied so DingTalk can match it. */
export interface StreamReply {
  code: number;
  headers: { contentType: 'application/json'; messageId: string };
  message: string;
  data: string;
}

function reply(messageId: string, code: number, message: string, data: string): string {
  const frame: StreamReply = { code, headers: { contentType: 'application/json', messageId }, message, data };
  return JSON.stringify(frame);
}

/** Answer to SYSTEM `ping`: code 200 and the ping's own data, which carries `opaque` (§10.5). */
export function pingReply(messageId: string, data: string): string {
  return reply(messageId, 200, 'OK', data);
}

/**
 * Ack of an EVENT: code 200 with `{"status":"SUCCESS"|"LATER"}` (the Node and Java SDKs send LATER
 * with 200 too, §10.4); `message` is a short diagnostic for DingTalk's side, never a payload.
 */
export function eventAck(messageId: string, status: EventAck, message?: string): string {
  return reply(messageId, 200, 'OK', JSON.stringify(message === undefined ? { status } : { status, message }));
}

/** A CALLBACK or unknown type we did not subscribe to: 404 "topic not supported" (§10.4). */
export function unsupportedReply(messageId: string): string {
  return reply(messageId, 404, 'topic not supported', '{}');
}

function readObject(data: string | undefined): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(data ?? '');
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function toEpochMs(value: string | number | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}
