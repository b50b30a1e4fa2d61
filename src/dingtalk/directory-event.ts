/**
 * One organisation event from DingTalk in our words, whichever way it came: the HTTP push
 * (dingtalk-api.md §5.1, UpperCamel `EventType`/`UserId`/`DeptId`/`CorpId`/`TimeStamp`) or a
 * Stream push (§10.3, headers `eventId`/`eventType`/`eventCorpId`/`eventBornTime` and a camelCase
 * `data` string). Each transport has its own parser inside `src/dingtalk/`; everything after that
 * (the event inbox, deprovisioning) sees only these types.
 */
export type EventTransport = 'http' | 'stream';

export interface DirectoryEvent {
  /**
   * Unique per event, the inbox's key (a redelivery is a no-op): Stream's `eventId` header; for
   * HTTP pushes, which carry none, a digest of type, organisation, timestamp, people and
   * departments, so a re-encrypted redelivery of the same change gives the same id.
   */
  id: string;
  transport: EventTransport;
  /** DingTalk's event type as sent (`user_leave_org`, `org_dept_modify`, …). */
  type: string;
  /** The organisation the event belongs to, when DingTalk said. */
  corpId?: string;
  /** DingTalk userids concerned (never unionIds). */
  userIds: string[];
  /** Department ids concerned. */
  departmentIds: number[];
  /** When DingTalk says it happened (epoch ms). */
  occurredAt?: number;
  /** The decrypted payload as received, kept with the inbox record for operators. */
  raw: unknown;
}

/**
 * A push that arrived authenticated but cannot be read as an event (not JSON, fields of the wrong
 * shape). It is recorded as failed, with the reason, and acknowledged: answering "later" would only
 * make DingTalk send it again forever.
 */
export interface UnreadableEvent {
  /** As stable as the transport allows: Stream's `eventId`/`messageId`, else a digest of the payload. */
  id: string;
  transport: EventTransport;
  /** Why it could not be read, in a few words (never the payload itself). */
  reason: string;
  raw: unknown;
}

/** `SUCCESS`: recorded (and the urgent part done); `LATER`: a transient failure, DingTalk should push it again. */
export type EventAck = 'SUCCESS' | 'LATER';

/** Where both transports hand events over: the durable event inbox. */
export type EventSink = (event: DirectoryEvent | UnreadableEvent) => Promise<EventAck>;

export function isUnreadable(event: DirectoryEvent | UnreadableEvent): event is UnreadableEvent {
  return 'reason' in event;
}
