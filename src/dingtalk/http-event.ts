import { createHash } from 'node:crypto';

import type { DirectoryEvent, UnreadableEvent } from './directory-event.js';

/** What a decrypted HTTP push (dingtalk-api.md §5.1) is: the URL handshake, or an event for the inbox. */
export type HttpPush = { kind: 'check_url' } | { kind: 'event'; event: DirectoryEvent | UnreadableEvent };

/**
 * Reads the decrypted JSON of an HTTP push (§5.1: `EventType`, `UserId`, `DeptId`, `CorpId`,
 * `TimeStamp`) into a {@link DirectoryEvent}. Lenient where DingTalk's own examples vary: ids may
 * come as numbers or numeric strings, one id may come without its list, `TimeStamp` as a string or
 * a number. Anything else that does not fit is an {@link UnreadableEvent} with the reason, never an
 * exception: the inbox records it as failed and DingTalk gets its `success`.
 *
 * HTTP pushes carry no event id, so the id is a digest of what identifies the change (type,
 * organisation, DingTalk's stamp, people, departments): the same change re-sent (re-encrypted,
 * keys in another order) gives the same id; an unreadable payload's id is a digest of its text.
 */
export function parseHttpPush(plaintext: string): HttpPush {
  let json: unknown;
  try {
    json = JSON.parse(plaintext);
  } catch {
    return unreadable(plaintext, plaintext, 'payload is not JSON');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return unreadable(plaintext, json, 'payload is not a JSON object');
  }
  const body = json as Record<string, unknown>;
  const type = body.EventType;
  if (typeof type !== 'string' || type.trim() === '') return unreadable(plaintext, json, 'EventType is missing');
  if (type === 'check_url') return { kind: 'check_url' };

  const userIds = idList(body.UserId, (value) =>
    typeof value === 'string' && value !== '' ? value : typeof value === 'number' && Number.isInteger(value) ? String(value) : undefined,
  );
  if (userIds === undefined) return unreadable(plaintext, json, 'UserId is not a list of userids');
  const departmentIds = idList(body.DeptId, toDepartmentId);
  if (departmentIds === undefined) return unreadable(plaintext, json, 'DeptId is not a list of department ids');
  if (body.CorpId !== undefined && typeof body.CorpId !== 'string') return unreadable(plaintext, json, 'CorpId is not a string');
  const stamp = body.TimeStamp;
  if (stamp !== undefined && typeof stamp !== 'string' && typeof stamp !== 'number') {
    return unreadable(plaintext, json, 'TimeStamp is not a time');
  }
  const occurredAt = toEpochMs(stamp);
  const corpId = typeof body.CorpId === 'string' && body.CorpId !== '' ? body.CorpId : undefined;

  const canonical = JSON.stringify([
    type,
    corpId ?? '',
    stamp === undefined ? '' : String(stamp),
    [...userIds].sort(),
    [...departmentIds].sort((a, b) => a - b),
  ]);
  return {
    kind: 'event',
    event: {
      id: `http:${digest(canonical)}`,
      transport: 'http',
      type,
      ...(corpId === undefined ? {} : { corpId }),
      userIds,
      departmentIds,
      ...(occurredAt === undefined ? {} : { occurredAt }),
      raw: json,
    },
  };
}

function unreadable(plaintext: string, raw: unknown, reason: string): HttpPush {
  return { kind: 'event', event: { id: `http:${digest(plaintext)}`, transport: 'http', reason, raw } };
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A list of ids (or one id on its own); `undefined` when any element is not an id. Absent or null is empty. */
function idList<T>(value: unknown, read: (element: unknown) => T | undefined): T[] | undefined {
  if (value === undefined || value === null) return [];
  const elements = Array.isArray(value) ? value : [value];
  const ids: T[] = [];
  for (const element of elements) {
    const id = read(element);
    if (id === undefined) return undefined;
    ids.push(id);
  }
  return ids;
}

/** Department ids are positive integers (1 is the root); DingTalk sends numbers, some payloads numeric strings. */
function toDepartmentId(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value > 0 ? value : undefined;
  if (typeof value === 'string' && /^\d{1,15}$/.test(value.trim())) {
    const id = Number(value.trim());
    return id > 0 ? id : undefined;
  }
  return undefined;
}

/** `TimeStamp` is epoch ms as a string (§5.1); seconds are accepted too. */
function toEpochMs(value: unknown): number | undefined {
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : '';
  if (!/^\d{9,16}$/.test(text)) return undefined;
  const at = Number(text);
  return at < 1e12 ? at * 1000 : at;
}
