/**
 * The DingTalk call budget: every HTTP call to DingTalk, from every replica and every caller
 * (sign-ins, sweeps, events, the console), takes a slot here first, so that together they stay
 * below DingTalk's limits instead of finding them (shared/dingtalk-api.md §6.1):
 *
 * - **per API, per app**: DingTalk allows 20 calls per second per API per app and answers the 21st
 *   with 90018 / 403 `QpsLimitForAppkeyAndApi`. The budget paces each API path of each app at
 *   `perApiPerSecond` (default 15: §6.1 advises 15–18, because jitter bunches calls) with a burst of
 *   `perApiBurst` calls, so that any sliding second sees at most `perApiPerSecond + perApiBurst`.
 * - **the whole egress**: one address sending 10 000 requests in 20 s is blocked for five minutes.
 *   All APIs and apps of this deployment share `egressPerSecond` (default 400: at most 8 400 in any
 *   20 s), far below the block.
 *
 * **Priorities.** A sign-in (a person waiting on a page) never queues behind a sweep:
 * - a `sign-in` call *reserves* the next free slot of the API, waiting at most its own bound
 *   (`maxWaitMs`); if the next free slot is further away it is refused at once, with the time it
 *   would have had to wait (`BudgetExhaustedError.retryAfterMs`);
 * - a `background` call (sweep, events) never reserves ahead: it goes only when the API is idle
 *   right now (no sign-in slot pending) and within its own slower pace (`backgroundPerSecond`), and
 *   otherwise sleeps for the hinted time and asks again, until its bound. So a burst of sign-ins
 *   takes every slot, and a sweep takes what is left.
 *
 * **How.** A GCRA (generic cell rate algorithm) per key: one number, the "theoretical arrival
 * time" of the next call; a call may go at `max(now, tat − tolerance)` and moves `tat` on by one
 * interval. In Redis it is one Lua script per decision (atomic, one round trip, Redis's own clock so
 * replicas' clocks need not agree); without Redis the same arithmetic runs in memory. The two keys of
 * a decision share a `{hash tag}`, so the script is valid on Redis Cluster.
 *
 * Why not rate-limiter-flexible (already a dependency, used for the abuse limits): its Redis
 * limiters count in fixed windows, which let 2 × the limit through across a window boundary —
 * exactly what DingTalk's sliding second punishes (§6.1) — and they can only refuse, not hand out
 * the next free slot with its time, nor keep slots for one class of callers.
 *
 * Redis failing: the decision is made in this process's memory instead (each replica then paces on
 * its own), reported through `onRedisError`; a call never fails because Redis did.
 */
import type { RedisClient } from '../store/redis.js';
import { UpstreamError } from '../errors/app-error.js';

/** Who is asking: a person signing in, or work nobody is waiting for (sweeps, events). */
export type CallPriority = 'sign-in' | 'background';

/** The budget's pace. Every rate is calls per second. */
export interface CallBudgetLimits {
  /** Per API path, per app; DingTalk's own limit is 20 (§6.1). */
  perApiPerSecond: number;
  /** Calls of one API that may go at once before the pace applies (≥ 1). */
  perApiBurst: number;
  /** Background callers' own pace per API (≤ perApiPerSecond); they also only use an idle API. */
  backgroundPerSecond: number;
  /** All calls of this deployment (the egress address); DingTalk blocks 10 000 in 20 s. */
  egressPerSecond: number;
  /** Calls that may go at once on the egress before its pace applies. */
  egressBurst: number;
}

export const DEFAULT_CALL_BUDGET_LIMITS: Readonly<CallBudgetLimits> = Object.freeze({
  perApiPerSecond: 15,
  perApiBurst: 3,
  backgroundPerSecond: 10,
  egressPerSecond: 400,
  egressBurst: 20,
});

/** One request for a slot. */
export interface SlotRequest {
  /** The DingTalk API, as DingTalk counts it: its path (`/topapi/v2/user/get`). */
  api: string;
  priority: CallPriority;
  /** How long this caller may wait for a slot; beyond it, `BudgetExhaustedError`. */
  maxWaitMs: number;
  /** Our name of the call (`dingtalk.user_get`), for the error. */
  operation?: string;
}

/** What the budget decided for one request (for metrics and logs). */
export interface SlotDecision {
  api: string;
  priority: CallPriority;
  granted: boolean;
  /** How long the caller waited (granted) or would have had to wait (refused). */
  waitMs: number;
}

export interface CallBudget {
  /**
   * Resolves when the caller may send its call (after waiting at most `maxWaitMs`); rejects with
   * `BudgetExhaustedError` when no slot comes within that bound. A granted slot is spent: send the call.
   */
  acquire(request: SlotRequest): Promise<void>;
}

/** No slot within the caller's bound: DingTalk was not called. */
export class BudgetExhaustedError extends UpstreamError {
  /** When the next slot is expected (from the refusal): a caller asking again then should get one. */
  readonly retryAfterMs: number;
  readonly api: string;

  constructor(operation: string, api: string, retryAfterMs: number) {
    super('dingtalk.busy', 'Too many DingTalk calls right now: no slot within the wait allowed', {
      operation,
      retryable: true,
      status: 503,
    });
    this.api = api;
    this.retryAfterMs = Math.max(0, Math.ceil(retryAfterMs));
  }
}

/** True for a refusal of the call budget (DingTalk was not called). */
export function isBudgetExhausted(error: unknown): error is BudgetExhaustedError {
  return error instanceof BudgetExhaustedError;
}

/** Options of {@link createCallBudget}. */
export interface CallBudgetOptions {
  /** The DingTalk app (Client ID): per-API limits are per app. */
  appKey: string;
  limits?: Partial<CallBudgetLimits>;
  /** Shared by every replica; absent (embedded mode) → this process's memory. */
  redis?: RedisClient;
  /** Told of every decision (metrics). Never changes the outcome; exceptions are ignored. */
  onDecision?: (decision: SlotDecision) => void;
  /** Redis failed; the decision was made in memory instead. */
  onRedisError?: (error: unknown) => void;
  /** Clock and sleep, for tests of the memory store only. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** GCRA parameters of one decision, in milliseconds. */
interface Pace {
  intervalMs: number;
  toleranceMs: number;
  /** Background: its own interval (it never reserves ahead). */
  backgroundIntervalMs: number;
  /**
   * Background: how far the key may be booked ahead and still let it in. 0 for an API (only when no
   * sign-in is pending); half the burst for the egress (the other half stays for sign-ins).
   */
  backgroundToleranceMs: number;
}

/** `granted`, and the wait: until the reserved slot (granted) or until a slot would be free (refused). */
interface Take {
  granted: boolean;
  waitMs: number;
}

/** Where the arithmetic runs: Redis (shared) or memory (this process). */
interface PaceStore {
  take(keys: [all: string, background: string], pace: Pace, priority: CallPriority, maxWaitMs: number): Promise<Take>;
}

/**
 * KEYS[1]: tat of every call of the key, KEYS[2]: tat of background calls.
 * ARGV: interval, tolerance, priority (s|b), max wait (sign-in), background interval, background
 * tolerance — milliseconds.
 * Returns {granted (0|1), wait ms as a string} (Lua numbers would be truncated to integers).
 */
const TAKE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
if ARGV[3] == 's' then
  local at = math.max(now, tat - tolerance)
  if at - now > tonumber(ARGV[4]) then return {0, tostring(at - now)} end
  local next = tat + interval
  redis.call('SET', KEYS[1], tostring(next), 'PX', math.ceil(next - now) + 1000)
  return {1, tostring(at - now)}
end
local btat = math.max(now, tonumber(redis.call('GET', KEYS[2]) or '0'))
local wait = math.max(tat - tonumber(ARGV[6]) - now, btat - now)
if wait > 0 then return {0, tostring(wait)} end
redis.call('SET', KEYS[1], tostring(tat + interval), 'PX', math.ceil(tat + interval - now) + 1000)
redis.call('SET', KEYS[2], tostring(now + tonumber(ARGV[5])), 'PX', math.ceil(tonumber(ARGV[5])) + 1000)
return {1, '0'}
`;

function redisPaceStore(redis: RedisClient): PaceStore {
  return {
    async take(keys, pace, priority, maxWaitMs) {
      const [granted, wait] = (await redis.eval(
        TAKE_SCRIPT,
        2,
        keys[0],
        keys[1],
        String(pace.intervalMs),
        String(pace.toleranceMs),
        priority === 'sign-in' ? 's' : 'b',
        String(Math.max(0, maxWaitMs)),
        String(pace.backgroundIntervalMs),
        String(pace.backgroundToleranceMs),
      )) as [number, string];
      return { granted: granted === 1, waitMs: Number(wait) };
    },
  };
}

/** The same arithmetic as TAKE_SCRIPT, in this process. */
function memoryPaceStore(now: () => number): PaceStore {
  const tats = new Map<string, number>();
  const read = (key: string, at: number): number => {
    const tat = tats.get(key);
    if (tat !== undefined && tat <= at - 1000) tats.delete(key); // expired, as PX would
    return Math.max(at, tat ?? 0);
  };
  return {
    async take([allKey, backgroundKey], pace, priority, maxWaitMs) {
      const at = now();
      const tat = read(allKey, at);
      if (priority === 'sign-in') {
        const slot = Math.max(at, tat - pace.toleranceMs);
        if (slot - at > Math.max(0, maxWaitMs)) return { granted: false, waitMs: slot - at };
        tats.set(allKey, tat + pace.intervalMs);
        return { granted: true, waitMs: slot - at };
      }
      const wait = Math.max(tat - pace.backgroundToleranceMs - at, read(backgroundKey, at) - at);
      if (wait > 0) return { granted: false, waitMs: wait };
      tats.set(allKey, tat + pace.intervalMs);
      tats.set(backgroundKey, at + pace.backgroundIntervalMs);
      return { granted: true, waitMs: 0 };
    },
  };
}

/** `dingtalk:budget:{<app>:<api>}` — the hash tag keeps a decision's two keys in one Cluster slot. */
export function budgetKeys(appKey: string, api: string): [string, string] {
  const base = `dingtalk:budget:{${appKey}:${api}}`;
  return [`${base}:all`, `${base}:background`];
}

/** The egress is shared by every app of the deployment. */
export const EGRESS_KEYS: [string, string] = ['dingtalk:budget:{egress}:all', 'dingtalk:budget:{egress}:background'];

/** Shortest sleep between a background caller's attempts (ms). */
const MIN_BACKGROUND_SLEEP_MS = 5;

export function createCallBudget(options: CallBudgetOptions): CallBudget {
  const limits = { ...DEFAULT_CALL_BUDGET_LIMITS };
  for (const name of Object.keys(limits) as (keyof CallBudgetLimits)[]) {
    const value = options.limits?.[name];
    if (value !== undefined) limits[name] = value;
  }
  validate(limits);
  const now = options.now ?? (() => performance.timeOrigin + performance.now());
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const memory = memoryPaceStore(now);
  const shared = options.redis ? redisPaceStore(options.redis) : undefined;

  const perApi: Pace = {
    intervalMs: 1000 / limits.perApiPerSecond,
    toleranceMs: (limits.perApiBurst - 1) * (1000 / limits.perApiPerSecond),
    backgroundIntervalMs: 1000 / limits.backgroundPerSecond,
    backgroundToleranceMs: 0,
  };
  const egress: Pace = {
    intervalMs: 1000 / limits.egressPerSecond,
    toleranceMs: (limits.egressBurst - 1) * (1000 / limits.egressPerSecond),
    backgroundIntervalMs: 1000 / limits.egressPerSecond,
    backgroundToleranceMs: Math.floor((limits.egressBurst - 1) / 2) * (1000 / limits.egressPerSecond),
  };

  async function take(keys: [string, string], pace: Pace, priority: CallPriority, maxWaitMs: number): Promise<Take> {
    if (shared) {
      try {
        return await shared.take(keys, pace, priority, maxWaitMs);
      } catch (error) {
        try {
          options.onRedisError?.(error);
        } catch {
          // reporting never breaks a call
        }
      }
    }
    return memory.take(keys, pace, priority, maxWaitMs);
  }

  /** One key pair: a sign-in reserves (one decision), a background caller asks until idle or out of time. */
  async function slot(
    keys: [string, string],
    pace: Pace,
    priority: CallPriority,
    deadline: number,
  ): Promise<Take & { retryAfterMs: number }> {
    let waited = 0;
    for (;;) {
      const left = deadline - now();
      const result = await take(keys, pace, priority, left);
      if (priority === 'sign-in' || result.granted) {
        if (result.granted && result.waitMs > 0) await sleep(result.waitMs);
        return { granted: result.granted, waitMs: waited + result.waitMs, retryAfterMs: result.waitMs };
      }
      if (result.waitMs > deadline - now()) return { granted: false, waitMs: waited, retryAfterMs: result.waitMs };
      // Sleep for the hint (plus a little jitter, so that waiting sweep workers do not all ask at once).
      const pause = Math.max(MIN_BACKGROUND_SLEEP_MS, result.waitMs) * (1 + Math.random() * 0.2);
      await sleep(pause);
      waited += pause;
    }
  }

  function report(decision: SlotDecision): void {
    try {
      options.onDecision?.(decision);
    } catch {
      // reporting never breaks a call
    }
  }

  return {
    async acquire({ api, priority, maxWaitMs, operation }) {
      const deadline = now() + Math.max(0, maxWaitMs);
      const own = await slot(budgetKeys(options.appKey, api), perApi, priority, deadline);
      // The API's slot first (the tighter limit), then the egress's: it rarely waits at all.
      const all = own.granted ? await slot(EGRESS_KEYS, egress, priority, deadline) : own;
      // The waits the budget scheduled (not the round trips to Redis).
      const waitMs = own.granted ? own.waitMs + all.waitMs : own.waitMs;
      report({ api, priority, granted: all.granted, waitMs });
      if (!all.granted) throw new BudgetExhaustedError(operation ?? 'dingtalk.budget', api, all.retryAfterMs);
    },
  };
}

function validate(limits: CallBudgetLimits): void {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(limits)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) problems.push(`${name} must be a positive number`);
  }
  if (limits.perApiBurst < 1 || limits.egressBurst < 1) problems.push('bursts must be at least 1');
  if (limits.backgroundPerSecond > limits.perApiPerSecond) problems.push('backgroundPerSecond must not exceed perApiPerSecond');
  if (problems.length > 0) throw new RangeError(`call budget: ${problems.join('; ')}`);
}
