/**
 * Prometheus metrics (prom-client): one registry per app instance (tests run several in one
 * process), the named metrics below, and Node's default process metrics. Every label has a bounded
 * set of values: route templates or oidc-provider route names (never raw paths), grant types the
 * provider accepted, DingTalk operation names and our own error codes.
 *
 * The helpers at the end connect the parts that know nothing of metrics (the DingTalk client, the
 * audit log, Sequelize, ioredis) from the composition root (app/compose.ts).
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import {
  ConnectionError,
  DatabaseError,
  ExclusionConstraintError,
  ForeignKeyConstraintError,
  type Sequelize,
  TimeoutError,
} from 'sequelize';
import type { Logger } from './log.js';

export interface Metrics {
  registry: Registry;
  /** `http_request_duration_seconds{method,route,status}`. */
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  /** `oidc_tokens_issued_total{grant_type}`: successful token endpoint responses. */
  tokensIssued: Counter<'grant_type'>;
  /** `oidc_logins_total{outcome}`: succeeded, failed, denied (from the audit log). */
  logins: Counter<'outcome'>;
  /** `dingtalk_api_duration_seconds{operation,outcome}`: one HTTP attempt to DingTalk. */
  dingtalkDuration: Histogram<'operation' | 'outcome'>;
  /** `dingtalk_api_errors_total{operation,code}`: failed attempts by our error code. */
  dingtalkErrors: Counter<'operation' | 'code'>;
  /**
   * `dingtalk_api_calls_total{api,outcome}`: per DingTalk API path, calls spent (`ok`, `error`,
   * `throttled`: DingTalk answered "too fast") and calls our call budget refused (`refused`: not sent).
   */
  dingtalkCalls: Counter<'api' | 'outcome'>;
  /** `dingtalk_budget_wait_seconds{priority}`: how long a call waited for its budget slot (granted ones). */
  dingtalkBudgetWait: Histogram<'priority'>;
  /** `redis_errors_total{source}`: connection errors, rate limits counted in memory instead. */
  redisErrors: Counter<'source'>;
  /** `postgres_errors_total{kind}`: connection, timeout and query errors. */
  postgresErrors: Counter<'kind'>;
  /** `rate_limit_rejections_total{limit}`: requests answered 429, by limit name. */
  rateLimited: Counter<'limit'>;
  /**
   * `dingtalk_events_total{transport,type,outcome}`: DingTalk events handed to the event inbox, by
   * transport (http, stream), type (the handled types, else `other` or `unreadable`) and outcome
   * (recorded, duplicate, unreadable, unknown_type, no_user, other_corp, no_corp, later).
   */
  dingtalkEvents: Counter<'transport' | 'type' | 'outcome'>;
  /** `oidc_token_errors_total{error}`: token-endpoint answers `invalid_grant` and `invalid_client` (counted, never refused). */
  tokenErrors: Counter<'error'>;
  /** `dingtalk_stream_connected`: 1 while this process holds an open DingTalk Stream connection. */
  streamConnected: Gauge;
  /** `dingtalk_stream_connections_total`: Stream connections opened. */
  streamConnections: Counter;
  /** `dingtalk_stream_failures_total{code}`: failed attempts and lost connections, by our code. */
  streamFailures: Counter<'code'>;
  /** `dingtalk_stream_events_total{outcome}`: EVENT pushes answered (success, later, unreadable). */
  streamEvents: Counter<'outcome'>;
}

const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const UPSTREAM_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by route template (or oidc-provider route name), method and status',
      labelNames: ['method', 'route', 'status'],
      buckets: HTTP_BUCKETS,
      registers,
    }),
    tokensIssued: new Counter({
      name: 'oidc_tokens_issued_total',
      help: 'Successful token endpoint responses by grant type',
      labelNames: ['grant_type'],
      registers,
    }),
    logins: new Counter({
      name: 'oidc_logins_total',
      help: 'Logins through DingTalk by outcome (succeeded, failed, denied)',
      labelNames: ['outcome'],
      registers,
    }),
    dingtalkDuration: new Histogram({
      name: 'dingtalk_api_duration_seconds',
      help: 'Duration of one HTTP attempt to DingTalk by operation and outcome (ok, error)',
      labelNames: ['operation', 'outcome'],
      buckets: UPSTREAM_BUCKETS,
      registers,
    }),
    dingtalkErrors: new Counter({
      name: 'dingtalk_api_errors_total',
      help: 'Failed DingTalk calls by operation and error code',
      labelNames: ['operation', 'code'],
      registers,
    }),
    dingtalkCalls: new Counter({
      name: 'dingtalk_api_calls_total',
      help: 'DingTalk calls per API path: spent (ok, error, throttled) and refused by the call budget (refused, not sent)',
      labelNames: ['api', 'outcome'],
      registers,
    }),
    dingtalkBudgetWait: new Histogram({
      name: 'dingtalk_budget_wait_seconds',
      help: 'How long a DingTalk call waited for a slot of the call budget, by priority (sign-in, background)',
      labelNames: ['priority'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60],
      registers,
    }),
    redisErrors: new Counter({
      name: 'redis_errors_total',
      help: 'Redis errors: connection (client error events), rate_limiter and call_budget (counted in memory instead)',
      labelNames: ['source'],
      registers,
    }),
    postgresErrors: new Counter({
      name: 'postgres_errors_total',
      help: 'PostgreSQL errors by kind (connection, timeout, query)',
      labelNames: ['kind'],
      registers,
    }),
    rateLimited: new Counter({
      name: 'rate_limit_rejections_total',
      help: 'Requests refused with 429 by limit name',
      labelNames: ['limit'],
      registers,
    }),
    dingtalkEvents: new Counter({
      name: 'dingtalk_events_total',
      help: 'DingTalk events received by transport, type and outcome (recorded, duplicate, unreadable, unknown_type, no_user, other_corp, no_corp, later)',
      labelNames: ['transport', 'type', 'outcome'],
      registers,
    }),
    tokenErrors: new Counter({
      name: 'oidc_token_errors_total',
      help: 'Token, introspection, revocation and PAR answers invalid_grant or invalid_client',
      labelNames: ['error'],
      registers,
    }),
    streamConnected: new Gauge({
      name: 'dingtalk_stream_connected',
      help: '1 while this process holds an open DingTalk Stream connection (DINGTALK_EVENT_MODE=stream), else 0',
      registers,
    }),
    streamConnections: new Counter({
      name: 'dingtalk_stream_connections_total',
      help: 'DingTalk Stream connections opened',
      registers,
    }),
    streamFailures: new Counter({
      name: 'dingtalk_stream_failures_total',
      help: 'Failed DingTalk Stream connection attempts and lost connections by code',
      labelNames: ['code'],
      registers,
    }),
    streamEvents: new Counter({
      name: 'dingtalk_stream_events_total',
      help: 'DingTalk Stream event pushes answered, by outcome (success, later, unreadable: acked and recorded as failed)',
      labelNames: ['outcome'],
      registers,
    }),
  };
}

/** The Stream client's state changes and acks → the `dingtalk_stream_*` metrics (its onStatus / onEvent hooks). */
export function observeStream(metrics: Metrics): {
  onStatus: (status: { state: string; counts: { connections: number }; lastError?: { code: string; at: number } }) => void;
  onEvent: (outcome: 'success' | 'later' | 'unreadable') => void;
} {
  let connections = 0;
  let lastFailureAt: number | undefined;
  return {
    onStatus(status) {
      metrics.streamConnected.set(status.state === 'connected' ? 1 : 0);
      if (status.counts.connections > connections) {
        metrics.streamConnections.inc(status.counts.connections - connections);
        connections = status.counts.connections;
      }
      if (status.state === 'waiting' && status.lastError && status.lastError.at !== lastFailureAt) {
        lastFailureAt = status.lastError.at;
        metrics.streamFailures.inc({ code: status.lastError.code });
      }
    },
    onEvent(outcome) {
      metrics.streamEvents.inc({ outcome });
    },
  };
}

/**
 * `event_inbox_items{status}`: items in the event inbox by status (pending, done, failed, ignored),
 * counted in PostgreSQL when `/metrics` is scraped. A failed count leaves the gauge as it was.
 */
export function observeInbox(metrics: Metrics, counts: () => Promise<Record<string, number>>): void {
  new Gauge({
    name: 'event_inbox_items',
    help: 'Items in the DingTalk event inbox by status (pending, done, failed, ignored)',
    labelNames: ['status'],
    registers: [metrics.registry],
    async collect() {
      try {
        for (const [status, count] of Object.entries(await counts())) this.set({ status }, count);
      } catch {
        // PostgreSQL unavailable: /metrics still answers, and postgres_errors_total says why.
      }
    },
  });
}

const LOGIN_OUTCOMES = new Set(['succeeded', 'failed', 'denied']);

/**
 * The audit log, also counting `login.*` entries in `oidc_logins_total`. Wraps `record` only, so
 * the interactions keep recording as before.
 */
export function observeLogins<T extends { record(entry: { type: string }): Promise<void> }>(audit: T, metrics: Metrics): T {
  return {
    ...audit,
    record(entry: Parameters<T['record']>[0]) {
      if (entry.type.startsWith('login.')) {
        const outcome = entry.type.slice('login.'.length);
        metrics.logins.inc({ outcome: LOGIN_OUTCOMES.has(outcome) ? outcome : 'other' });
      }
      return audit.record(entry);
    },
  };
}

/** What the DingTalk client reports after each HTTP attempt (its `onCall` option). */
export interface UpstreamCall {
  operation: string;
  /** The DingTalk API path (`/topapi/v2/user/get`). */
  api?: string;
  durationMs: number;
  /** Our error code (`dingtalk.timeout`, …) when the attempt failed. */
  error?: string;
}

/** DingTalk call → latency histogram, error counter, and a debug line (with the request id). */
export function observeDingTalkCall(metrics: Metrics, logger: Logger): (call: UpstreamCall) => void {
  return (call) => {
    const outcome = call.error ? 'error' : 'ok';
    metrics.dingtalkDuration.observe({ operation: call.operation, outcome }, call.durationMs / 1000);
    if (call.error) metrics.dingtalkErrors.inc({ operation: call.operation, code: call.error });
    if (call.api !== undefined) {
      const spent = call.error === undefined ? 'ok' : call.error === 'dingtalk.throttled' ? 'throttled' : 'error';
      metrics.dingtalkCalls.inc({ api: call.api, outcome: spent });
    }
    logger.debug({ operation: call.operation, ms: Math.round(call.durationMs), error: call.error }, 'DingTalk call');
  };
}

/** The call budget's decisions → `dingtalk_api_calls_total{outcome="refused"}` and the wait histogram. */
export function observeCallBudget(
  metrics: Metrics,
  logger: Logger,
): {
  onDecision(decision: { api: string; priority: string; granted: boolean; waitMs: number }): void;
  onRedisError(error: unknown): void;
} {
  let lastLogged = 0;
  return {
    onDecision({ api, priority, granted, waitMs }) {
      if (granted) metrics.dingtalkBudgetWait.observe({ priority }, waitMs / 1000);
      else metrics.dingtalkCalls.inc({ api, outcome: 'refused' });
    },
    onRedisError(error) {
      metrics.redisErrors.inc({ source: 'call_budget' });
      const now = Date.now();
      if (now - lastLogged >= 10_000) {
        lastLogged = now;
        logger.warn({ err: error }, 'DingTalk call budget: Redis unavailable, pacing in this process only');
      }
    },
  };
}

/** Counts connection-level errors of an ioredis client (and keeps them out of stderr). */
export function observeRedis(
  redis: { on(event: 'error', listener: (error: Error) => void): unknown },
  metrics: Metrics,
  logger: Logger,
): void {
  let lastLogged = 0;
  redis.on('error', (error) => {
    metrics.redisErrors.inc({ source: 'connection' });
    // ioredis reports every failed reconnect; one line every 10 s is enough to see an outage.
    const now = Date.now();
    if (now - lastLogged >= 10_000) {
      lastLogged = now;
      logger.warn({ err: error }, 'Redis connection error');
    }
  });
}

/**
 * Counts errors of every query made through this Sequelize instance (models go through
 * `sequelize.query` too). Validation and constraint errors are the application's business and are
 * not counted; connection problems, timeouts and other database errors are.
 */
export function observeSequelize(sequelize: Sequelize, metrics: Metrics): void {
  const query = sequelize.query.bind(sequelize) as (...args: unknown[]) => Promise<unknown>;
  const wrapped = async (...args: unknown[]): Promise<unknown> => {
    try {
      return await query(...args);
    } catch (error) {
      const kind = postgresErrorKind(error);
      if (kind) metrics.postgresErrors.inc({ kind });
      throw error;
    }
  };
  (sequelize as unknown as { query: typeof wrapped }).query = wrapped;
}

export function postgresErrorKind(error: unknown): 'connection' | 'timeout' | 'query' | undefined {
  if (error instanceof ConnectionError) return 'connection';
  if (error instanceof TimeoutError) return 'timeout';
  if (error instanceof ForeignKeyConstraintError || error instanceof ExclusionConstraintError) return undefined;
  if (error instanceof DatabaseError) {
    // 57014: statement_timeout fired.
    return (error.original as { code?: string } | undefined)?.code === '57014' ? 'timeout' : 'query';
  }
  return undefined; // validation and unique-constraint errors, or not from the database at all
}
