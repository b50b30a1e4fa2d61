import type { Configuration } from 'oidc-provider';
import { messages } from '../errors/messages.js';
import type { PageRenderer } from '../ui/pages.js';

declare module 'koa' {
  interface DefaultState {
    /** The OAuth error code of an error page oidc-provider asked us to render. */
    oauthError?: string;
  }
}

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
