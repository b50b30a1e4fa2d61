/**
 * A failure to inject on the next request(s) to a path. On api.dingtalk.com paths and on
 * oapi.dingtalk.com paths each kind takes the shape that host really uses.
 */
export type EmulatorFault =
  /** oapi errcode -1 "系统繁忙"; api HTTP 503 `ServiceUnavailable`. */
  | 'busy'
  /** oapi errcode 15 (`isp.top-remote-connection-timeout`); api HTTP 504. */
  | 'timeout'
  /** HTTP 500: JSON error on api, an HTML gateway page on oapi. */
  | 'server-error'
  /** oapi errcode 90018; api 403 `Forbidden.AccessDenied.QpsLimitForAppkeyAndApi`. */
  | 'throttle'
  /** oapi 88 / sub_code "40014"; api 400 `InvalidAuthentication` — whatever token was sent. */
  | 'invalid-token'
  /** The connection is destroyed without an answer. */
  | 'reset'
  /** HTTP 200 with an HTML page (what an IP ban or a captive proxy returns). */
  | 'malformed'
  | { kind: 'server-error'; status: number }
  /** Answer normally, but only after `ms` (to trigger client timeouts). */
  | { kind: 'delay'; ms: number }
  /** Answer with exactly this status and JSON body. */
  | { kind: 'respond'; status: number; body: unknown };

/** One request the emulator served. */
export interface EmulatorCall {
  method: string;
  path: string;
  at: number;
}

/** The call log keeps this many of the latest requests (a long `npm start` must not grow without end). */
const MAX_CALLS = 100_000;

/** What arrives on the wire: the call log and the faults queued per path. */
export class Traffic {
  /** Every request served, oldest first (at least the latest {@link MAX_CALLS}). */
  readonly calls: EmulatorCall[] = [];
  readonly #faults = new Map<string, EmulatorFault[]>();

  record(call: EmulatorCall): void {
    this.calls.push(call);
    // Trimmed in batches, so a full log costs one copy per 10 000 calls, not one per call.
    if (this.calls.length > MAX_CALLS + 10_000) this.calls.splice(0, this.calls.length - MAX_CALLS);
  }

  countCalls(path: string, method?: string): number {
    return this.calls.filter((call) => call.path === path && (method === undefined || call.method === method)).length;
  }

  resetCalls(): void {
    this.calls.length = 0;
  }

  /** The next `times` requests to `path` (exact, without query) fail with `fault`. */
  failNext(path: string, fault: EmulatorFault, times: number): void {
    const queue = this.#faults.get(path) ?? [];
    for (let i = 0; i < times; i += 1) queue.push(fault);
    this.#faults.set(path, queue);
  }

  /** Removes and returns the next fault queued for `path`. */
  takeFault(path: string): EmulatorFault | undefined {
    const queue = this.#faults.get(path);
    const fault = queue?.shift();
    if (queue?.length === 0) this.#faults.delete(path);
    return fault;
  }

  clearFaults(): void {
    this.#faults.clear();
  }
}
