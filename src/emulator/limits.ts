/** The per-address limit of §6.1: this many requests within the window block the address. */
export interface AddressLimit {
  /** Requests (all APIs together) allowed per window; DingTalk: 10 000. */
  requests: number;
  /** The window; DingTalk: 20 s. */
  windowMs: number;
  /** How long the address stays blocked; DingTalk: 5 minutes. */
  blockMs: number;
}

/** §6.1: 10 000 requests from one egress address within 20 s block it for 5 minutes. */
export const DINGTALK_ADDRESS_LIMIT: AddressLimit = { requests: 10_000, windowMs: 20_000, blockMs: 5 * 60_000 };

/**
 * How the per-API second is counted: `aligned`, per calendar second of the emulator's clock, or
 * `sliding`, in any second (stricter: DingTalk does not say which, §6.1, and advises clients to
 * assume the sliding one).
 */
export type QpsWindow = 'aligned' | 'sliding';

interface AddressRecord {
  /** Request counts per second of the window, keyed by `Math.floor(now / 1000)`. */
  seconds: Map<number, number>;
  blockedUntil: number;
}

/**
 * DingTalk's call limits (§6.1), on the emulator's clock:
 * - per app, per API: at most `qpsLimit` calls per second, counted in calendar seconds or in any
 *   sliding second ({@link QpsWindow}); only admitted calls count.
 * - per egress address, all APIs together: `requests` within `windowMs` block the address for
 *   `blockMs`; every request sent counts, refused ones included (counted per second).
 */
export class RateLimits {
  #qpsLimit: number | false;
  #addressLimit: AddressLimit | false;
  #window: QpsWindow;
  /** Per API, the times of the latest admitted calls (at most `qpsLimit`), oldest first. */
  readonly #recent = new Map<string, number[]>();
  readonly #addresses = new Map<string, AddressRecord>();

  constructor(qpsLimit: number | false, addressLimit: AddressLimit | false, window: QpsWindow) {
    this.#qpsLimit = qpsLimit;
    this.#addressLimit = addressLimit;
    this.#window = window;
  }

  setQpsLimit(limit: number | false, window: QpsWindow = this.#window): void {
    this.#qpsLimit = limit;
    this.#window = window;
    this.#recent.clear();
  }

  setAddressLimit(limit: AddressLimit | false): void {
    this.#addressLimit = limit;
    this.#addresses.clear();
  }

  /** Counts a call against `api`'s second at `now`; false when it is over the limit. */
  admitCall(api: string, now: number): boolean {
    if (this.#qpsLimit === false) return true;
    const recent = this.#recent.get(api) ?? [];
    this.#recent.set(api, recent);
    const windowStart = this.#window === 'sliding' ? now - 1000 : Math.floor(now / 1000) * 1000 - 1;
    while (recent.length > 0 && recent[0]! <= windowStart) recent.shift();
    if (recent.length >= this.#qpsLimit) return false;
    recent.push(now);
    return true;
  }

  /**
   * Counts a request from `address` at `now`. Returns the end of the block when the address is
   * blocked (by this request or earlier), `undefined` when the request may go on.
   */
  admitAddress(address: string, now: number): number | undefined {
    const limit = this.#addressLimit;
    if (limit === false) return undefined;
    const record = this.#addresses.get(address) ?? { seconds: new Map<number, number>(), blockedUntil: 0 };
    this.#addresses.set(address, record);
    if (record.blockedUntil > now) return record.blockedUntil;
    const second = Math.floor(now / 1000);
    const oldest = second - Math.ceil(limit.windowMs / 1000) + 1;
    let total = 0;
    for (const [at, count] of record.seconds) {
      if (at < oldest) record.seconds.delete(at);
      else total += count;
    }
    record.seconds.set(second, (record.seconds.get(second) ?? 0) + 1);
    if (total + 1 <= limit.requests) return undefined;
    record.seconds.clear();
    record.blockedUntil = now + limit.blockMs;
    return record.blockedUntil;
  }
}
