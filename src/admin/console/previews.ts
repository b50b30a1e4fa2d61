/** Console: previews of the login pages, the real templates with sample data, in either language. */
import { format, type Locale, messages } from '../../errors/messages.js';
import { createPageRenderer } from '../../ui/pages.js';
import type { ConsolePages } from './context.js';
import { adminMessages } from './messages.js';

export const PREVIEW_PAGES = ['login', 'consent', 'wait', 'error', 'logout', 'logged-out'] as const;

export function registerPreviewPages({ router, render, signedIn }: ConsolePages): void {
  // Page previews: the real templates with sample data, rendered as the page itself (no iframe).
  const pages = createPageRenderer();
  router.get('/previews', signedIn, (ctx) => {
    render.page(ctx, 'previews', { title: adminMessages(render.localeOf(ctx)).navPreviews, section: 'previews', pages: PREVIEW_PAGES });
  });
  router.get('/previews/:page', signedIn, async (ctx, next) => {
    const page = PREVIEW_PAGES.find((name) => name === ctx.params.page);
    if (!page) {
      await next();
      return;
    }
    const locale: Locale = ctx.query.lang === 'en' ? 'en' : ctx.query.lang === 'zh-CN' ? 'zh-CN' : render.localeOf(ctx);
    ctx.set('Cache-Control', 'no-store');
    ctx.type = 'html';
    ctx.body = pages.render(page, locale, previewData(page, locale));
  });
}

/** Sample data for each page, as the interaction routes would give it; every link goes nowhere. */
function previewData(page: (typeof PREVIEW_PAGES)[number], locale: Locale): Record<string, unknown> {
  const t = messages(locale);
  const app = locale === 'en' ? 'Grafana (sample)' : 'Grafana（示例）';
  switch (page) {
    case 'login':
      return { title: t.loginTitle, loginLead: format(t.loginLead, { app }), dingtalkUrl: '#', abortUrl: '#', freeLogin: undefined };
    case 'consent':
      return {
        title: t.consentTitle,
        consentLead: format(t.consentLead, { app }),
        items:
          locale === 'en'
            ? [{ title: 'Your name and avatar' }, { title: 'Your email address' }, { title: 'Your roles and groups' }]
            : [{ title: '您的姓名和头像' }, { title: '您的邮箱地址' }, { title: '您的角色和分组' }],
        signedInAs: format(t.signedInAs, { name: locale === 'en' ? 'Wang Jianguo' : '王建国' }),
        action: '#',
        csrf: 'preview',
      };
    case 'wait':
      // The sign-in burst page, without its automatic reload (a preview stays put).
      return { title: t.waitTitle, waitText: format(t.waitText, { seconds: '5' }), retryUrl: '#', backUrl: '#' };
    case 'error':
      return { title: t.errorTitle, message: t.errorGeneric, code: 'access_denied' };
    case 'logout':
      return {
        title: t.logoutTitle,
        form: '<form id="op.logoutForm" method="get" action="#"><input type="hidden" name="preview" value="1"></form>',
      };
    case 'logged-out':
      return { title: t.loggedOutTitle };
  }
}
