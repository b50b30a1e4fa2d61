import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { createStreamClient, type EventSink, type StreamClient, type StreamClientOptions, type StreamStatus } from '../dingtalk/index.js';
import type { Logger } from '../log.js';
import { type Metrics, observeStream } from '../metrics.js';
import { STREAM_BOARD_TTL_MS } from '../store/index.js';
import { startStatusPublisher, type StatusBoard } from '../store/status-board.js';

/** This process's DingTalk Stream connection. */
export interface EventStream {
  client: StreamClient;
  /** Closes the connection (acks in hand go out first) and removes this process from the board. */
  stop(): Promise<void>;
}

export interface EventStreamDeps {
  /** The DingTalk app's credentials, its api base URL, the timeout and the Stream settings. */
  connection: Omit<StreamClientOptions, 'sink' | 'logger' | 'onStatus' | 'onEvent'>;
  /** Where the events go: the inbox. */
  sink: EventSink;
  /** Every process's connection state, for the console. */
  board: StatusBoard<StreamStatus>;
  metrics: Metrics;
  logger: Logger;
}

/**
 * DINGTALK_EVENT_MODE=stream: a Stream connection (not started: the server starts it, CLI commands
 * never do) handing its events to the inbox; its state goes to /metrics and, for the console, to a
 * board every process writes to.
 */
export function createEventStream(deps: EventStreamDeps): EventStream {
  const { board, metrics, logger } = deps;
  const publisher = startStatusPublisher(board, processInstance(), STREAM_BOARD_TTL_MS, (error) =>
    logger.warn({ err: error }, 'DingTalk Stream: publishing the connection state to Redis failed'),
  );
  const observed = observeStream(metrics);
  const client = createStreamClient({
    ...deps.connection,
    sink: deps.sink,
    logger,
    onStatus: (status) => {
      observed.onStatus(status);
      publisher.update(status);
    },
    onEvent: observed.onEvent,
  });
  let stopping: Promise<void> | undefined;
  return {
    client,
    stop() {
      stopping ??= (async () => {
        await client.stop();
        await publisher.stop();
      })();
      return stopping;
    },
  };
}

/** Names this process on the console: host (the pod, in Kubernetes), pid and a few random characters. */
function processInstance(): string {
  return `${hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`;
}
