import type { Middleware } from 'koa';
import { AppError } from '../../errors/app-error.js';
import { errorText, messages } from '../../errors/messages.js';
import type { Logger } from '../../log.js';
import type { PageRenderer } from '../../ui/pages.js';

/**
 * The last line of defence for our own routes: an error becomes a readable page (or a JSON
 * `{ code, message }` for clients that ask for JSON), never a stack trace. 4xx are logged at
 * info, 5xx at error with the stack.
 */
export function errorPage(pages: PageRenderer, logger: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        const locale = pages.localeOf(ctx.get('accept-language'));
        ctx.status = 404;
        ctx.type = 'html';
        ctx.body = pages.render('error', locale, {
          title: messages(locale).errorTitle,
          message: errorText(locale, 'not_found'),
          code: 'not_found',
        });
      }
    } catch (error) {
      const known = error instanceof AppError;
      const status = known ? error.status : Number((error as { status?: unknown }).status) || 500;
      const safeStatus = status >= 400 && status < 600 ? status : 500;
      const code = known ? error.code : safeStatus < 500 ? 'bad_request' : 'server_error';
      if (safeStatus >= 500) logger.error({ err: error, path: ctx.path }, 'request failed');
      else logger.info({ code, path: ctx.path }, 'request rejected');
      ctx.status = safeStatus;
      const locale = pages.localeOf(ctx.get('accept-language'));
      const t = messages(locale);
      const message = known && error.expose ? errorText(locale, code) : t.errorGeneric;
      ctx.set('Cache-Control', 'no-store');
      if (ctx.accepts('html', 'json') === 'json') {
        ctx.body = { code, message };
        return;
      }
      ctx.type = 'html';
      ctx.body = pages.render('error', locale, { title: t.errorTitle, message, code });
    }
  };
}
