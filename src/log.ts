import { AsyncLocalStorage } from 'node:async_hooks';
import { Writable } from 'node:stream';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from './config/schema.js';

export type { Logger };

/**
 * What is known about the HTTP request being served, for everything that runs on its behalf
 * (log lines, pages rendered, DingTalk calls made), without passing it down every call chain.
 * Set by the request-id middleware (http/middleware/request-id.ts), outermost in the app.
 */
export interface RequestContext {
  /** The request id: echoed in the `X-Request-Id` response header and on every log line. */
  readonly requestId: string;
  /** The CSP nonce of this response (http/middleware/security-headers.ts); templates put it on `<script>`. */
  cspNonce?: string;
}

const requestContext = new AsyncLocalStorage<RequestContext>();

/** Run `fn` (the rest of the middleware chain) on behalf of one request. */
export function runInRequest<T>(context: RequestContext, fn: () => T): T {
  return requestContext.run(context, fn);
}

/** The request being served, when called on behalf of one. */
export function currentRequest(): RequestContext | undefined {
  return requestContext.getStore();
}

export interface LoggerOptions {
  /** Where the lines go; default stdout (pretty in development on a terminal, JSON otherwise). */
  destination?: DestinationStream;
}

/**
 * JSON logs (pino). Every line written while a request is served carries its `reqId` (from the
 * request context, so loggers handed out before the request need no rebinding). Paths that could
 * hold a secret are censored wherever they appear, so a careless `log.info({ req })` cannot leak a
 * token, a code or a client secret.
 *
 * In development on a terminal, lines are printed in a short readable form instead (no
 * dependency: pino-pretty is not installed); anywhere else, one JSON object per line.
 */
export function createLogger(
  config: Pick<Config, 'logLevel'> & Partial<Pick<Config, 'env'>>,
  options: LoggerOptions = {},
): Logger {
  const destination =
    options.destination ?? (config.env === 'development' && process.stdout.isTTY ? prettyStream(process.stdout) : undefined);
  const settings = {
    level: config.logLevel,
    base: undefined,
    // A fresh object per line: pino merges the line's own fields into it.
    mixin: () => {
      const context = requestContext.getStore();
      return context ? { reqId: context.requestId } : {};
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
  return destination ? pino(settings, destination) : pino(settings);
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };

/** `12:03:04.123 INFO  message  key=value …` — development only; the JSON stays the contract. */
export function prettyStream(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line) out.write(`${prettyLine(line)}\n`);
      }
      done();
    },
  });
}

function prettyLine(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { time, level, msg, err, ...rest } = entry;
  const clock = typeof time === 'number' ? new Date(time).toISOString().slice(11, 23) : '';
  const fields = Object.entries(rest)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
  const stack = err && typeof err === 'object' && 'stack' in err ? `\n${String((err as { stack: unknown }).stack)}` : '';
  return `${clock} ${LEVELS[Number(level)] ?? String(level)} ${String(msg ?? '')}${fields ? `  ${fields}` : ''}${stack}`;
}
