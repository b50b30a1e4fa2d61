/**
 * What the Stream client does with each text frame (dingtalk-api.md §10.3–10.5): SYSTEM `ping` is
 * answered at once; `disconnect` hands over to the client (a new connection, this one retired once
 * its events are acked); each EVENT goes to the sink (the event inbox) and is acked with its answer:
 * `SUCCESS` once safely recorded, `LATER` on a transient failure (§10.4). Parsing is stream-frames.ts.
 */
import type { Logger } from '../log.js';
import { isUnreadable, type EventAck, type EventSink } from './directory-event.js';
import { send, type Connection } from './stream-connection.js';
import { eventAck, parseStreamFrame, pingReply, unsupportedReply } from './stream-frames.js';
import type { StatusBoard, StreamEventOutcome } from './stream-status.js';

export interface FrameHandlerDeps {
  /** Receives every EVENT push; its answer is the ack. */
  sink: EventSink;
  logger: Logger;
  board: StatusBoard;
  /** Told after each EVENT push is answered (metrics). */
  onEvent?: (outcome: StreamEventOutcome) => void;
  /** DingTalk announced it will close `connection` (§10.5): retire it, open another. */
  onDisconnect: (connection: Connection) => void;
}

export function createFrameHandler(deps: FrameHandlerDeps): (connection: Connection, text: string) => void {
  const { logger, board } = deps;

  function onFrame(connection: Connection, text: string): void {
    const push = parseStreamFrame(text);
    switch (push.kind) {
      case 'ping':
        send(connection, pingReply(push.messageId, push.data));
        return;
      case 'disconnect':
        // Already replaced: a repeated announcement must not open yet another connection.
        if (connection.retiring) return;
        logger.info({ reason: push.reason }, 'DingTalk Stream: disconnect announced; opening a new connection');
        deps.onDisconnect(connection);
        return;
      case 'system':
        logger.debug({ topic: push.topic }, 'DingTalk Stream system message');
        return;
      case 'unsupported':
        logger.info({ type: push.type, topic: push.topic }, 'DingTalk Stream: push of a kind not subscribed to; answered 404');
        send(connection, unsupportedReply(push.messageId));
        return;
      case 'invalid':
        logger.warn({ reason: push.reason }, 'DingTalk Stream: unreadable frame ignored (nothing to reply to)');
        return;
      case 'event': {
        board.current.lastEventAt = Date.now();
        const work = handleEvent(connection, push.messageId, push.event);
        connection.inflight.add(work);
        void work.finally(() => {
          connection.inflight.delete(work);
          if (connection.retiring && connection.inflight.size === 0) connection.ws.close(1000, 'reconnecting');
        });
      }
    }
  }

  async function handleEvent(connection: Connection, messageId: string, event: Parameters<EventSink>[0]): Promise<void> {
    let ack: EventAck;
    try {
      ack = await deps.sink(event);
    } catch (error) {
      logger.error({ err: error, eventId: event.id }, 'DingTalk Stream event could not be recorded; answering LATER');
      ack = 'LATER';
    }
    const unreadable = isUnreadable(event);
    const outcome: StreamEventOutcome = ack === 'LATER' ? 'later' : unreadable ? 'unreadable' : 'success';
    if (unreadable) logger.warn({ eventId: event.id, reason: event.reason, ack }, 'DingTalk Stream: unreadable event');
    else logger.info({ eventId: event.id, type: event.type, ack }, 'DingTalk Stream event');
    const counts = { ...board.current.counts };
    if (ack === 'LATER') counts.later += 1;
    else {
      counts.success += 1;
      if (unreadable) counts.unreadable += 1;
    }
    if (!send(connection, eventAck(messageId, ack))) {
      logger.warn({ eventId: event.id }, 'DingTalk Stream: connection closed before the ack; DingTalk will push the event again');
    }
    board.changed({ counts });
    try {
      deps.onEvent?.(outcome);
    } catch {
      // a reporting hook never breaks the connection
    }
  }

  return onFrame;
}
