import type { Context } from 'koa';
import { format, messages } from '../errors/messages.js';
import { browserBinding } from './browser.js';
import type { InteractionDeps } from './deps.js';
import { renderPage } from './render.js';

/** Inside the DingTalk client (User-Agent contains "DingTalk", dingtalk-api.md §4). */
export function isDingTalkClient(userAgent: string | undefined): boolean {
  return /DingTalk/i.test(userAgent ?? '');
}

/** The login page: a "使用钉钉登录" link, and free login (免登) inside the DingTalk client. */
export async function showLogin(deps: InteractionDeps, ctx: Context, uid: string, clientName: string): Promise<void> {
  const { config, pages } = deps;
  const freeLogin = Boolean(config.dingtalk.corpId) && isDingTalkClient(ctx.get('user-agent'));
  if (config.login.autoRedirect && !freeLogin) {
    ctx.status = 303;
    ctx.redirect(`/interaction/${uid}/dingtalk`);
    return;
  }
  const t = messages(pages.localeOf(ctx.get('accept-language')));
  if (freeLogin) {
    // The DingTalk JSAPI is loaded from DingTalk's CDN on this page only, and the CSP names its
    // exact URL (a path source matches that file only), not the whole CDN origin; the tag carries
    // no nonce, so that URL is what allows it, and its Subresource Integrity hash when one is set
    // (DINGTALK_JSAPI_INTEGRITY).
    const csp = ctx.response.get('Content-Security-Policy');
    if (csp) ctx.set('Content-Security-Policy', csp.replace("script-src 'self'", `script-src 'self' ${config.login.jsapiUrl}`));
  }
  // From here on this browser's sign-in requests are counted as its own, not its address's
  // (http/middleware/rate-limit.ts), and the DingTalk state is bound to it.
  browserBinding(ctx, true);
  renderPage(ctx, pages, 'login', {
    title: t.loginTitle,
    loginLead: format(t.loginLead, { app: clientName }),
    dingtalkUrl: `/interaction/${uid}/dingtalk`,
    abortUrl: `/interaction/${uid}/abort?error=access_denied`,
    freeLogin: freeLogin
      ? {
          corpId: config.dingtalk.corpId,
          action: `/interaction/${uid}/free-login`,
          csrf: ctx.state.csrfToken!(),
          jsapiUrl: config.login.jsapiUrl,
          jsapiIntegrity: config.login.jsapiIntegrity,
        }
      : undefined,
  });
}
