/**
 * The token endpoints' flood limit (`tokenFlood`, per client address, in this process's memory):
 * counted on every token, introspection and revocation call, so without promises, timers or
 * objects per request (issue #15). rate-limiter-flexible's memory limiter, used before, answered
 * each call with a promise and a result object and kept a timer per address.
 *
 * Fixed windows of `durationSeconds`, one for all addresses: when a window has passed, every count
 * starts again from zero (the map is replaced, so addresses seen once are forgotten with it; at
 * most one window's addresses are kept). An address past `points` in a window is refused until the
 * window ends, or for `blockSeconds` when that is set.
 */
export interface FloodWindow {
  /** Counts one request of `key`: 0 to go on, else the milliseconds until it would be accepted. */
  hit(key: string, now?: number): number;
}

export function floodWindow(limit: { points: number; durationSeconds: number; blockSeconds?: number | undefined }): FloodWindow {
  const windowMs = limit.durationSeconds * 1000;
  const blockMs = (limit.blockSeconds ?? 0) * 1000;
  let counts = new Map<string, number>();
  /** Addresses refused for `blockSeconds`, with when their block ends (only with blockSeconds). */
  let blocked = new Map<string, number>();
  let windowEnds = 0;

  return {
    hit(key, now = Date.now()) {
      if (now >= windowEnds) {
        counts = new Map();
        windowEnds = now + windowMs;
        if (blocked.size > 0) blocked = new Map([...blocked].filter(([, until]) => until > now));
      }
      if (blocked.size > 0) {
        const until = blocked.get(key);
        if (until !== undefined && until > now) return until - now;
      }
      const count = (counts.get(key) ?? 0) + 1;
      counts.set(key, count);
      if (count <= limit.points) return 0;
      if (blockMs > 0) {
        blocked.set(key, now + blockMs);
        return blockMs;
      }
      return windowEnds - now;
    },
  };
}
