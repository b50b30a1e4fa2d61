import { isRecord } from '../http.js';
import type { StreamReplyRecord } from './types.js';

/**
 * Reads one reply frame as §10.4 describes it: `{code, headers: {messageId, contentType}, message,
 * data}` with `data` a JSON **string**. What the reply answers is left to the caller (`answers:
 * 'unknown'`); `problem` names the first way it departs from §10.4.
 */
export function parseReply(connectionId: string, at: number, text: string): StreamReplyRecord {
  const record: StreamReplyRecord = { connectionId, at, text, answers: 'unknown' };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!isRecord(json)) {
    record.problem = 'reply is not a JSON object';
    return record;
  }
  if (typeof json.code === 'number') record.code = json.code;
  if (typeof json.message === 'string') record.message = json.message;
  const messageId = isRecord(json.headers) && typeof json.headers.messageId === 'string' ? json.headers.messageId : undefined;
  if (messageId !== undefined) record.messageId = messageId;
  if (typeof json.data !== 'string') {
    record.problem = 'data is not a JSON string';
  } else {
    try {
      record.data = JSON.parse(json.data);
    } catch {
      record.problem = 'data is not a JSON string';
    }
  }
  if (messageId === undefined) record.problem ??= 'reply has no headers.messageId';
  else if (record.code === undefined) record.problem ??= 'reply has no numeric code';
  return record;
}

/** Every reply received, oldest first, with listeners for tests that wait for one. */
export class ReplyLog {
  readonly replies: StreamReplyRecord[] = [];
  readonly #listeners = new Set<(reply: StreamReplyRecord) => void>();

  add(record: StreamReplyRecord): void {
    this.replies.push(record);
    for (const listener of this.#listeners) listener(record);
  }

  /** Calls `listener` with every reply as it arrives; returns the unsubscribe. */
  onReply(listener: (reply: StreamReplyRecord) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The first reply (already received or still to come) that matches. */
  waitForReply(match: (reply: StreamReplyRecord) => boolean, timeoutMs = 5000): Promise<StreamReplyRecord> {
    const seen = this.replies.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        stop();
        reject(new Error(`emulator: no matching Stream reply within ${timeoutMs} ms`));
      }, timeoutMs);
      const stop = this.onReply((reply) => {
        if (!match(reply)) return;
        clearTimeout(timer);
        stop();
        resolve(reply);
      });
    });
  }
}
