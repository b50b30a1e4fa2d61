import type { Configuration } from 'oidc-provider';
import { messages } from '../errors/messages.js';
import type { PageRenderer } from '../ui/pages.js';

declare module 'koa' {
  interface DefaultState {
    /** The OAuth error code of an error page oidc-provider asked us to render. */
    oauthError?: string;
  }
}

/** oidc-provider routes a person's browser opens; an error there is a page. */
const BROWSER_ROUTES: ReadonlySet<string> = new Set([
  'authorization',
  'resume',
  'end_session',
  'end_session_confirm',
  'end_session_success',
  'code_verification',
  'device_resume',
]);

type Features = NonNullable<Configuration['features']>;
type Logout = NonNullable<Features['rpInitiatedLogout']>;

/** The pages oidc-provider renders itself, in our layout and language. */
export function providerPages(pages: PageRenderer): {
  renderError: NonNullable<Configuration['renderError']>;
  logoutSource: Logout['logoutSource'];
  postLogoutSuccessSource: Logout['postLogoutSuccessSource'];
} {
  return {
    renderError(ctx, out) {
      // The OAuth error code, for the rate limits (an HTML answer hides it from them otherwise).
      ctx.state.oauthError = typeof out.error === 'string' ? out.error : undefined;
      // oidc-provider asks for a page whenever Accept prefers HTML; only the browser endpoints get
      // one. Token, introspection, revocation, PAR and userinfo answer JSON whatever Accept says
      // (RFC 6749 §5.2, RFC 7662 §2.3, RFC 7009 §2.2.1, RFC 9126 §2.3, RFC 6750 §3.1).
      if (!BROWSER_ROUTES.has(ctx.oidc?.route ?? '')) {
        ctx.type = 'json';
        ctx.body = out;
        return;
      }
      const locale = pages.localeOf(ctx.get('accept-language'));
      const t = messages(locale);
      ctx.type = 'html';
      ctx.set('Cache-Control', 'no-store');
      ctx.body = pages.render('error', locale, {
        title: t.errorTitle,
        message: t.errorGeneric,
        code: typeof out.error === 'string' ? out.error : 'server_error',
      });
    },
    logoutSource(ctx, form) {
      const locale = pages.localeOf(ctx.get('accept-language'));
      ctx.type = 'html';
      ctx.set('Cache-Control', 'no-store');
      ctx.body = pages.render('logout', locale, { title: messages(locale).logoutTitle, form });
    },
    postLogoutSuccessSource(ctx) {
      const locale = pages.localeOf(ctx.get('accept-language'));
      ctx.type = 'html';
      ctx.body = pages.render('logged-out', locale, { title: messages(locale).loggedOutTitle });
    },
  };
}
