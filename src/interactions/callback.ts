import type { Context } from 'koa';
import { unusedSignInCode, type UpstreamIdentity } from '../dingtalk/index.js';
import { format, messages } from '../errors/messages.js';
import { browserBinding, randomToken } from './browser.js';
import { type Handover, HANDOVER_TTL_SECONDS, type InteractionDeps, type LoginState } from './deps.js';
import { failureCode, oauthErrorFor, renderLoginError, renderPage } from './render.js';

/**
 * GET /dingtalk/callback — the one redirect URL registered at DingTalk. oidc-provider scopes its
 * interaction cookie to /interaction/:uid, so this route cannot finish the interaction itself: it
 * checks the state, signs the person in (DingTalk → account), and hands the result over to
 * /interaction/:uid/login through a single-use token bound to the same browser.
 *
 * When DingTalk is busy with a burst of sign-ins (our call budget has no slot for the code exchange
 * within `signInCodeWaitMs`, or DingTalk itself answered "too fast"), the code has not been used: the
 * state goes back, and a "please wait" page reloads this same URL a few seconds later, until
 * `signInQueueMs` after the first attempt; then the usual "DingTalk unavailable" page.
 */
export async function dingTalkCallback(deps: InteractionDeps, ctx: Context): Promise<void> {
  const query = ctx.query;
  const state = typeof query.state === 'string' ? query.state : undefined;
  const record = state ? await deps.ephemeral.take<LoginState>(`state:${state}`) : undefined;
  const browser = browserBinding(ctx, false);
  if (!record || !browser || record.browser !== browser) {
    deps.logger.info({ reason: record ? 'other browser' : 'unknown state' }, 'dingtalk callback refused');
    renderLoginError(ctx, deps.pages, { code: 'login.state_invalid', status: 400 });
    return;
  }
  const { uid } = record;
  // DingTalk documents `authCode`; the same value also arrives as `code` (dingtalk-api.md §1.2).
  const code = [query.authCode, query.code].find((value): value is string => typeof value === 'string' && value !== '');
  if (typeof query.error === 'string' || !code) {
    await deps.audit.record({ type: 'login.failed', ip: ctx.ip, details: { reason: 'dingtalk.denied' } });
    renderLoginError(ctx, deps.pages, { code: 'dingtalk.denied', status: 400, uid, oauthError: 'access_denied' });
    return;
  }
  let identity: UpstreamIdentity | undefined;
  const attempt = Date.now();
  try {
    identity = await deps.dingtalk.identityFromCode(code);
    const account = await deps.provisioning.signIn(identity);
    const handover = randomToken();
    const next: Handover = { uid, browser, accountId: account.id };
    await deps.ephemeral.put(`login:${handover}`, next, HANDOVER_TTL_SECONDS);
    ctx.set('Cache-Control', 'no-store');
    ctx.status = 303;
    ctx.redirect(`/interaction/${uid}/login?handover=${handover}`);
  } catch (error) {
    const unused = unusedSignInCode(error);
    if (state && unused && attempt - (record.waitingSince ?? attempt) < deps.config.dingtalk.callBudget.signInQueueMs) {
      await askToWait(deps, ctx, state, record, attempt, unused.retryAfterMs);
      return;
    }
    const reason = failureCode(error);
    deps.logger.info({ err: error, reason }, 'dingtalk login failed');
    // Not awaited: when PostgreSQL is the problem, the page must not wait for the audit write too.
    void deps.audit.record({
      type: 'login.failed',
      ip: ctx.ip,
      details: { reason, unionId: identity?.unionId, userId: identity?.userId },
    });
    renderLoginError(ctx, deps.pages, {
      code: reason,
      status: statusFor(reason),
      uid,
      oauthError: oauthErrorFor(error),
    });
  }
}

/** Longest pause the wait page asks for; the page says how long. */
const MAX_WAIT_SECONDS = 10;

/**
 * Puts the state back (with when the wait began) and renders the wait page, which reloads this URL
 * after about the time the budget expects a slot — spread a little, so a crowd does not return at once.
 */
async function askToWait(
  deps: InteractionDeps,
  ctx: Context,
  state: string,
  record: LoginState,
  attempt: number,
  retryAfterMs: number | undefined,
): Promise<void> {
  const waitingSince = record.waitingSince ?? attempt;
  const queueMs = deps.config.dingtalk.callBudget.signInQueueMs;
  const ttlSeconds = Math.ceil((waitingSince + queueMs - attempt) / 1000) + MAX_WAIT_SECONDS + 30;
  await deps.ephemeral.put(`state:${state}`, { ...record, waitingSince } satisfies LoginState, ttlSeconds);
  deps.logger.info({ waitedMs: attempt - waitingSince }, 'dingtalk callback: busy, asked to wait');
  renderWaitPage(deps, ctx, { retryAfterMs, retryUrl: ctx.originalUrl, uid: record.uid });
}

/**
 * The "please wait" page (503, Retry-After): it goes to `retryUrl` by itself after about the time the
 * budget expects a slot — spread a little, so a crowd does not return at once — or at a click.
 */
export function renderWaitPage(
  deps: InteractionDeps,
  ctx: Context,
  options: { retryAfterMs: number | undefined; retryUrl: string; uid: string; refreshUrl?: string },
): void {
  const { retryAfterMs } = options;
  const expectedMs = retryAfterMs === undefined ? 1000 : retryAfterMs - deps.config.dingtalk.callBudget.signInCodeWaitMs;
  const seconds = Math.min(MAX_WAIT_SECONDS, Math.max(1, Math.ceil(expectedMs / 1000) + Math.floor(Math.random() * 3)));
  const t = messages(deps.pages.localeOf(ctx.get('accept-language')));
  ctx.status = 503;
  ctx.set('Retry-After', String(seconds));
  renderPage(ctx, deps.pages, 'wait', {
    title: t.waitTitle,
    waitText: format(t.waitText, { seconds: String(seconds) }),
    refreshSeconds: seconds,
    ...(options.refreshUrl === undefined ? {} : { refreshUrl: options.refreshUrl }),
    retryUrl: options.retryUrl,
    backUrl: `/interaction/${options.uid}/abort?error=temporarily_unavailable`,
  });
}

/** 503 for what may work in a moment, 500 for a bug, 403 for a refusal. */
export function statusFor(reason: string): number {
  if (reason === 'dingtalk.unavailable' || reason === 'service.unavailable') return 503;
  return reason === 'server_error' ? 500 : 403;
}
