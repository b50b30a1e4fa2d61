import type { Context } from 'koa';
import { AccountError, AppError, UpstreamError } from '../errors/app-error.js';
import { errorText, messages } from '../errors/messages.js';
import { isStoreUnavailable } from '../store/unavailable.js';
import type { PageRenderer } from '../ui/pages.js';

export function noStore(ctx: Context): void {
  ctx.set('Cache-Control', 'no-store');
  ctx.set('Pragma', 'no-cache');
}

export function renderPage(ctx: Context, pages: PageRenderer, view: string, data: Record<string, unknown>): void {
  const locale = pages.localeOf(ctx.get('accept-language'));
  noStore(ctx);
  ctx.type = 'html';
  ctx.body = pages.render(view, locale, data);
}

/** The OAuth error the application receives when the person goes back from this failure. */
export function oauthErrorFor(error: unknown): 'access_denied' | 'temporarily_unavailable' {
  return error instanceof UpstreamError || isStoreUnavailable(error) ? 'temporarily_unavailable' : 'access_denied';
}

/** The user-facing code of a login failure: stable, with text in messages.ts. */
export function failureCode(error: unknown): string {
  if (error instanceof AccountError) return error.code;
  if (error instanceof UpstreamError) {
    if (error.code === 'dingtalk.invalid_code') return 'dingtalk.invalid_code';
    if (error.retryable || ['dingtalk.timeout', 'dingtalk.unavailable', 'dingtalk.throttled'].includes(error.code)) {
      return 'dingtalk.unavailable';
    }
    return 'dingtalk.error';
  }
  if (error instanceof AppError && error.expose) return error.code;
  if (isStoreUnavailable(error)) return 'service.unavailable';
  return 'server_error';
}

/**
 * The error page of the login path: what happened, **Try again** (back to the login page of this
 * interaction) and **Back to the application** (ends the interaction with an OAuth error).
 */
export function renderLoginError(
  ctx: Context,
  pages: PageRenderer,
  options: { code: string; status: number; uid?: string; oauthError?: 'access_denied' | 'temporarily_unavailable' },
): void {
  const locale = pages.localeOf(ctx.get('accept-language'));
  const t = messages(locale);
  // A refusal (not a member, disabled) will not change by trying again with the same account.
  const refusal = options.status === 403;
  ctx.status = options.status;
  renderPage(ctx, pages, 'error', {
    title: refusal ? t.noAccessTitle : t.errorTitle,
    message: errorText(locale, options.code),
    code: options.code,
    backFirst: refusal,
    retryLabel: refusal ? t.useAnotherAccount : undefined,
    retryUrl: options.uid ? `/interaction/${options.uid}` : undefined,
    backUrl: options.uid ? `/interaction/${options.uid}/abort?error=${options.oauthError ?? 'access_denied'}` : undefined,
  });
}
