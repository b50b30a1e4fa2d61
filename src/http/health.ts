/**
 * Probes: `/healthz` (the process answers) and `/readyz` (it can serve: Postgres and Redis answer,
 * no migration is pending). A load balancer or Kubernetes sends traffic only to ready replicas,
 * and restarts one whose /healthz stops answering.
 */
import type { Middleware } from 'koa';
import type { Sequelize } from 'sequelize';
import { pendingMigrations } from '../db/migrator.js';
import type { Logger } from '../log.js';

/** Resolves when its part is ready; throws (or takes too long) when not. */
export type ReadinessCheck = () => Promise<void>;

/** `/healthz`: alive. Touches nothing, so a slow database never gets a healthy process restarted. */
export const liveness: Middleware = (ctx) => {
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { status: 'ok' };
};

/**
 * `/readyz`: every check in parallel, each bounded by `timeoutMs`; 200 when all pass, else 503
 * with which failed (names only, no error text). A check that changes state is logged once.
 *
 * The answer is reused for `cacheMs` (1 s), and probes arriving while the checks run share that
 * run: a flood of /readyz (it needs no credentials) costs PostgreSQL and Redis at most one round
 * of checks a second per process, while an orchestrator probing every few seconds sees every change.
 */
export function readiness(
  checks: Record<string, ReadinessCheck>,
  logger: Logger,
  options: { timeoutMs?: number; cacheMs?: number } = {},
): Middleware {
  const timeoutMs = options.timeoutMs ?? 2_000;
  const cacheMs = options.cacheMs ?? 1_000;
  const lastState = new Map<string, boolean>();
  let answer: { at: number; ready: boolean; checks: Record<string, string> } | undefined;
  let running: Promise<{ ready: boolean; checks: Record<string, string> }> | undefined;
  const runChecks = async (): Promise<{ ready: boolean; checks: Record<string, string> }> => {
    const results = await Promise.all(
      Object.entries(checks).map(async ([name, check]) => {
        let ok = true;
        let failure: unknown;
        try {
          await withTimeout(check(), timeoutMs);
        } catch (error) {
          ok = false;
          failure = error;
        }
        if (lastState.get(name) !== ok) {
          if (!ok) logger.warn({ check: name, err: failure }, 'readiness check failing');
          else if (lastState.has(name)) logger.info({ check: name }, 'readiness check passing again');
          lastState.set(name, ok);
        }
        return [name, ok ? 'ok' : 'failing'] as const;
      }),
    );
    return { ready: results.every(([, state]) => state === 'ok'), checks: Object.fromEntries(results) };
  };
  return async (ctx) => {
    if (!answer || Date.now() - answer.at >= cacheMs) {
      running ??= runChecks().finally(() => {
        running = undefined;
      });
      const result = await running;
      answer = { at: Date.now(), ...result };
    }
    ctx.status = answer.ready ? 200 : 503;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: answer.ready ? 'ok' : 'failing', checks: answer.checks };
  };
}

/**
 * `check`, a pass reused for `ttlMs`, and concurrent probes sharing one run: for checks too costly
 * to run at every probe. A failure is not reused, so the probe after a recovery passes at once.
 */
export function cachedCheck(check: ReadinessCheck, ttlMs: number): ReadinessCheck {
  let passedAt: number | undefined;
  let running: Promise<void> | undefined;
  return () => {
    if (passedAt !== undefined && Date.now() - passedAt < ttlMs) return Promise.resolve();
    // Bounded, so that a query stuck on a dead connection cannot keep every later probe waiting on it.
    running ??= withTimeout(check(), Math.max(ttlMs, 5_000)).then(
      () => {
        passedAt = Date.now();
        running = undefined;
      },
      (error: unknown) => {
        passedAt = undefined;
        running = undefined;
        throw error;
      },
    );
    return running;
  };
}

/** Ready when PostgreSQL answers a query. */
export function postgresAnswers(sequelize: Sequelize): ReadinessCheck {
  return async () => {
    await sequelize.query('SELECT 1');
  };
}

/** Ready when the database has every migration of this build (a replica of a newer build waits for `migrate`). */
export function migrationsCurrent(sequelize: Sequelize, ttlMs = 10_000): ReadinessCheck {
  return cachedCheck(async () => {
    const pending = await pendingMigrations(sequelize);
    if (pending.length > 0) throw new Error(`${pending.length} migration(s) pending: ${pending.join(', ')}`);
  }, ttlMs);
}

function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
