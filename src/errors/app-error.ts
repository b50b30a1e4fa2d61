/**
 * Typed errors. Every failure that can reach a person or a log is one of these: a stable dotted
 * `code` (e.g. `dingtalk.not_in_corp`), an HTTP `status`, whether its message may be shown
 * (`expose`), and the underlying `cause` for the log only.
 */
export interface AppErrorOptions {
  status?: number;
  expose?: boolean;
  cause?: unknown;
}

export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly expose: boolean;

  constructor(code: string, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = options.status ?? 500;
    this.expose = options.expose ?? this.status < 500;
  }
}

/** A call to an upstream (DingTalk) failed: timeout, non-2xx, error envelope or unexpected shape. */
export class UpstreamError extends AppError {
  /** Which upstream call failed, e.g. `dingtalk.users_me`. */
  readonly operation: string;
  /** True when trying again later may succeed (timeouts, 5xx, throttling). */
  readonly retryable: boolean;

  constructor(code: string, message: string, options: AppErrorOptions & { operation: string; retryable?: boolean }) {
    super(code, message, { status: 502, expose: false, ...options });
    this.operation = options.operation;
    this.retryable = options.retryable ?? false;
  }
}

/** The account may not sign in (disabled, not a member of the organisation, no access). */
export class AccountError extends AppError {
  constructor(code: string, message: string, options: AppErrorOptions = {}) {
    super(code, message, { status: 403, expose: true, ...options });
  }
}

/** The configuration is invalid; `problems` lists every one of them, each naming its setting. */
export class ConfigError extends AppError {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super('config.invalid', `invalid configuration:\n  - ${problems.join('\n  - ')}`, {
      status: 500,
      expose: false,
    });
    this.problems = problems;
  }
}
