import helmet from 'koa-helmet';
import type { Middleware } from 'koa';

/**
 * koa-helmet on every response, the provider's pages included (they are served through the same
 * app). `form-action` is left out on purpose: a consent or logout form is answered by a redirect
 * to the relying party, and Chromium applies form-action to that redirect too.
 */
export function securityHeaders(options: { https: boolean }): Middleware {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: true,
      directives: {
        'default-src': ["'self'"],
        'script-src': ["'self'"],
        'style-src': ["'self'"],
        'img-src': ["'self'", 'data:', 'https:'],
        'frame-ancestors': ["'none'"],
        'form-action': null,
        'upgrade-insecure-requests': options.https ? [] : null,
      },
    },
    strictTransportSecurity: options.https ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginEmbedderPolicy: false,
  });
}
