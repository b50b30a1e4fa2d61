import { pino, type Logger } from 'pino';
import type { Config } from './config/schema.js';

export type { Logger };

/**
 * JSON logs (pino). Paths that could hold a secret are censored wherever they appear, so a
 * careless `log.info({ req })` cannot leak a token, a code or a client secret.
 */
export function createLogger(config: Pick<Config, 'logLevel'>): Logger {
  return pino({
    level: config.logLevel,
    base: undefined,
    redact: {
      paths: [
        'authorization',
        'cookie',
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
  });
}
