import type { Context } from 'koa';
import type { UpstreamIdentity } from '../dingtalk/identity.js';
import { browserBinding, randomToken } from './browser.js';
import { type Handover, HANDOVER_TTL_SECONDS, type InteractionDeps, type LoginState } from './deps.js';
import { failureCode, oauthErrorFor, renderLoginError } from './render.js';

/**
 * GET /dingtalk/callback — the one redirect URL registered at DingTalk. oidc-provider scopes its
 * interaction cookie to /interaction/:uid, so this route cannot finish the interaction itself: it
 * checks the state, signs the person in (DingTalk → account), and hands the result over to
 * /interaction/:uid/login through a single-use token bound to the same browser.
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
  try {
    identity = await deps.dingtalk.fetchIdentity(code);
    const account = await deps.provisioning.signIn(identity);
    const handover = randomToken();
    const next: Handover = { uid, browser, accountId: account.id };
    await deps.ephemeral.put(`login:${handover}`, next, HANDOVER_TTL_SECONDS);
    ctx.set('Cache-Control', 'no-store');
    ctx.status = 303;
    ctx.redirect(`/interaction/${uid}/login?handover=${handover}`);
  } catch (error) {
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

/** 503 for what may work in a moment, 500 for a bug, 403 for a refusal. */
export function statusFor(reason: string): number {
  if (reason === 'dingtalk.unavailable' || reason === 'service.unavailable') return 503;
  return reason === 'server_error' ? 500 : 403;
}
