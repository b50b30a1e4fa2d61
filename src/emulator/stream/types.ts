/** Shapes shared by the emulated Stream gateway's parts (dingtalk-api.md §10). */

export const STREAM_OPEN_PATH = '/v1.0/gateway/connections/open';
/** Path of the WebSocket endpoint on the emulator's server (DingTalk's is `/connect` too, §10.1). */
export const STREAM_CONNECT_PATH = '/connect';

/** Settings of the Stream gateway (all optional). */
export interface StreamGatewayOptions {
  /** Validity of a ticket; default 90 000 ms (§10.1). */
  ticketTtlMs?: number;
  /** Redelivery when an event is not acked SUCCESS within this; default 10 000 ms. */
  ackTimeoutMs?: number;
  /** Stop redelivering this long after the first push; default 60 000 ms (the Node SDK's "60 s"). */
  giveUpAfterMs?: number;
  /** SYSTEM `ping` period per connection; default 30 000 ms (undocumented, §10.8); 0 = only `ping()`. */
  pingIntervalMs?: number;
  /** After a `disconnect`, the socket is closed this much later unless the client closed it; default 10 000 ms (§10.5). */
  disconnectGraceMs?: number;
}

/** A `subscriptions` entry of the registration. */
export interface StreamSubscription {
  type: string;
  topic: string;
}

/** A live connection. */
export interface StreamConnectionInfo {
  id: string;
  openedAt: number;
  subscriptions: StreamSubscription[];
  ua?: string;
}

/** One reply frame a client sent, as read by the emulator. */
export interface StreamReplyRecord {
  connectionId: string;
  at: number;
  /** The raw text. */
  text: string;
  /** `headers.messageId`, when the reply had one. */
  messageId?: string;
  code?: number;
  message?: string;
  /** `data` parsed (it must be a JSON string, §10.4). */
  data?: unknown;
  /** What the reply answered: an event push, a ping, or nothing the emulator knows. */
  answers: 'event' | 'ping' | 'unknown';
  /** For an event: its id and the `status` the reply carried (`SUCCESS`, `LATER`, or `undefined`). */
  eventId?: string;
  status?: string;
  /** Why the reply does not follow §10.4 (no messageId, data not a JSON string, opaque not echoed…). */
  problem?: string;
}

/** An event to push; `type` and the ids become `eventType` and camelCase data. */
export interface StreamEventInput {
  type: string;
  userIds?: readonly string[];
  deptIds?: readonly number[];
  /** Default: the emulator's organisation. */
  corpId?: string;
  /** Replaces the data object entirely (a string is sent as is: malformed data for tests). */
  data?: Record<string, unknown> | string;
  /** Default: a new random id. */
  eventId?: string;
}

/** A frame the gateway sends: `{specVersion, type, headers, data}` with `data` a JSON string (§10.3). */
export interface StreamFrame {
  specVersion: '1.0';
  type: 'SYSTEM' | 'EVENT' | 'CALLBACK';
  headers: Record<string, string>;
  data: string;
}

/** Picks one item at random (§10.6: each push goes to one connection, picked at random). */
export function pickOne<T>(items: T[]): T | undefined {
  return items.length === 0 ? undefined : items[Math.floor(Math.random() * items.length)];
}
