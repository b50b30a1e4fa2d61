/**
 * DingTalk's call limits (§6.1): per app, per API, calls per second. Counted in aligned 1-second
 * windows of the emulator's clock.
 */
export class RateLimits {
  #qpsLimit: number | false;
  readonly #qpsWindows = new Map<string, { second: number; count: number }>();

  constructor(qpsLimit: number | false) {
    this.#qpsLimit = qpsLimit;
  }

  setQpsLimit(limit: number | false): void {
    this.#qpsLimit = limit;
    this.#qpsWindows.clear();
  }

  /** Counts a call against `api`'s window at `now`; false when it is over the limit. */
  admitCall(api: string, now: number): boolean {
    if (this.#qpsLimit === false) return true;
    const second = Math.floor(now / 1000);
    const window = this.#qpsWindows.get(api);
    if (window === undefined || window.second !== second) {
      this.#qpsWindows.set(api, { second, count: 1 });
      return true;
    }
    window.count += 1;
    return window.count <= this.#qpsLimit;
  }
}
