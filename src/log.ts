import { createRequire } from 'node:module';
import requestStorage from 'oidc-provider/lib/helpers/als.js';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { PrettyOptions } from 'pino-pretty';
import type { Config } from './config/schema.js';

export type { Logger };

/**
 * What is known about the HTTP request being served, for everything that runs on its behalf
 * (log lines, pages rendered, DingTalk calls made), without passing it down every call chain:
 * the Koa context's `state`, set by the request-id middleware (http/middleware/request-id.ts),
 * outermost in the app.
 */
export interface RequestContext {
  /** The request id: echoed in the `X-Request-Id` response header and on every log line. */
  requestId?: string;
  /** The CSP nonce of this response (http/middleware/security-headers.ts); templates put it on `<script>`. */
  cspNonce?: string;
}

/**
 * The request's Koa context is kept in oidc-provider's own AsyncLocalStorage, not in one of ours.
 * oidc-provider runs every request it serves in that storage with the same Koa context (koa-mount
 * hands it ours; `Provider.ctx` reads it), so one storage serves both. With a second storage Node 20
 * writes two stores on every promise created, about 8 KiB more garbage per token request and
 * measurably more CPU (issue #15); with one, oidc-provider's `Provider.ctx` also answers inside our
 * own routes, where it was undefined before (nothing of ours reads it there).
 * oidc-provider is pinned to one version (package.json): test/unit/http/log.test.ts checks that
 * this is still the storage `Provider.ctx` reads (the import above).
 */

/** Run `fn` (the rest of the middleware chain) on behalf of one request (its Koa context, or anything with a `state`). */
export function runInRequest<T>(context: { state: RequestContext }, fn: () => T): T {
  return requestStorage.run(context, fn);
}

/** The request being served (its Koa context's `state`), when called on behalf of one. */
export function currentRequest(): RequestContext | undefined {
  return (requestStorage.getStore() as { state?: RequestContext } | undefined)?.state;
}

export interface LoggerOptions {
  /** Where the lines go; default stdout (readable in development on a terminal, JSON otherwise). */
  destination?: DestinationStream;
}

/**
 * JSON logs (pino). Every line written while a request is served carries its `reqId` (from the
 * request context, so loggers handed out before the request need no rebinding). Paths that could
 * hold a secret are censored wherever they appear, so a careless `log.info({ req })` cannot leak a
 * token, a code or a client secret.
 *
 * In development on a terminal, lines are printed for a person instead (pino-pretty, when it is
 * installed: it is a dev dependency); anywhere else (production, tests, a pipe, a file), one JSON
 * object per line, written to stdout asynchronously (issue #15): lines logged while a write is in
 * flight leave together in the next write instead of one blocking write each; nothing waits for a
 * timer, and pino writes out what is still buffered when the process exits (a crash included; not
 * a SIGKILL).
 */
export function createLogger(config: Pick<Config, 'logLevel'> & Partial<Pick<Config, 'env'>>, options: LoggerOptions = {}): Logger {
  const destination = options.destination ?? (config.env === 'development' && process.stdout.isTTY ? prettyStdout() : undefined);
  const settings = {
    level: config.logLevel,
    base: undefined,
    // A fresh object per line: pino merges the line's own fields into it.
    mixin: () => {
      const requestId = currentRequest()?.requestId;
      return requestId === undefined ? {} : { reqId: requestId };
    },
    redact: {
      paths: [
        'authorization',
        'cookie',
        'client_secret',
        'clientSecret',
        'query.code',
        'body.code',
        'authCode',
        'access_token',
        'refresh_token',
        'id_token',
        'password',
        '*.authorization',
        '*.cookie',
        '*.headers.authorization',
        '*.headers.cookie',
        '*.client_secret',
        '*.clientSecret',
        '*.query.code',
        '*.body.code',
        '*.authCode',
        '*.access_token',
        '*.refresh_token',
        '*.id_token',
        '*.password',
      ],
      censor: '[redacted]',
    },
  };
  // Asynchronous writes, with a bounded buffer: if the log reader stalls (a blocking container log
  // driver, a full disk behind the pipe), lines beyond 16 MiB are dropped rather than kept until
  // the process runs out of memory.
  return pino(settings, destination ?? pino.destination({ dest: 1, sync: false, maxLength: 16 * 1024 * 1024 }));
}

/**
 * The same logger (destination, level, request id) without the redaction pass, for lines whose
 * fields are all ours and hold no secret: the access line (method, route template, status,
 * duration, address). Redaction walks every line for the paths above, and on the access line,
 * written for every request, it cost more than formatting and writing it (issue #15). Never log
 * request data, headers or errors through it.
 */
export function withoutRedaction(logger: Logger): Logger {
  return logger.child({}, { redact: { paths: [] } });
}

/**
 * pino-pretty's options for our lines: one line per entry (`[12:03:04.123] WARN: request {…}`),
 * local time, no pid or hostname. The JSON stays the contract; this is only how a person reads it.
 */
const PRETTY: PrettyOptions = {
  singleLine: true,
  translateTime: 'SYS:HH:MM:ss.l',
  ignore: 'pid,hostname',
};

type PinoPretty = (options: PrettyOptions) => DestinationStream;

/** pino-pretty, or undefined where only production dependencies are installed (the container image). */
function loadPinoPretty(): PinoPretty | undefined {
  try {
    return createRequire(import.meta.url)('pino-pretty') as PinoPretty;
  } catch {
    return undefined;
  }
}

/** stdout for a person: pino-pretty writing synchronously to fd 1, in colour; JSON without pino-pretty. */
function prettyStdout(): DestinationStream | undefined {
  return loadPinoPretty()?.({ ...PRETTY, colorize: true, destination: 1, sync: true });
}

/** The readable lines of development on any stream, without colour (tests read them). */
export function prettyStream(out: NodeJS.WritableStream): DestinationStream {
  const pretty = loadPinoPretty();
  if (!pretty) throw new Error('pino-pretty is not installed (it is a dev dependency): run `npm install`');
  return pretty({ ...PRETTY, colorize: false, destination: out });
}
