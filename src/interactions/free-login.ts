import type { Context } from 'koa';
import { unusedSignInCode } from '../dingtalk/index.js';
import { verifyCsrf } from '../ui/csrf.js';
import { finishLogin } from './complete.js';
import type { InteractionDeps } from './deps.js';
import { renderWaitPage, statusFor } from './callback.js';
import { failureCode, oauthErrorFor, renderLoginError } from './render.js';

/**
 * POST /interaction/:uid/free-login — inside the DingTalk client the page gets a one-time code
 * from the JSAPI (`requestAuthCode`) and posts it here (dingtalk-api.md §4).
 *
 * When DingTalk is busy (no budget slot for the code's exchange in time, or throttled), a "please
 * wait" page goes back to the login page after a few seconds, which asks the JSAPI for a fresh
 * code and posts again — until `signInQueueMs` after the first wait of this interaction.
 */
export async function freeLogin(deps: InteractionDeps, ctx: Context): Promise<void> {
  const body = (ctx.request as unknown as { body?: Record<string, unknown> }).body ?? {};
  verifyCsrf(ctx, body._csrf);
  const provider = deps.holder.current();
  const interaction = await provider.interactionDetails(ctx.req, ctx.res);
  const code = typeof body.code === 'string' ? body.code : '';
  if (interaction.prompt.name !== 'login' || !code) {
    ctx.status = 303;
    ctx.redirect(`/interaction/${interaction.uid}`);
    return;
  }
  try {
    const identity = await deps.dingtalk.identityFromFreeLoginCode(code);
    const account = await deps.provisioning.signIn(identity);
    await finishLogin(deps, ctx, account.id, String(interaction.params.client_id), 'dingtalk_free_login', interaction.uid);
  } catch (error) {
    const unused = unusedSignInCode(error);
    if (unused && (await mayWait(deps, interaction.uid))) {
      deps.logger.info({}, 'dingtalk free login: busy, asked to wait');
      const loginPage = `/interaction/${interaction.uid}`;
      renderWaitPage(deps, ctx, { retryAfterMs: unused.retryAfterMs, retryUrl: loginPage, refreshUrl: loginPage, uid: interaction.uid });
      return;
    }
    const reason = failureCode(error);
    deps.logger.info({ err: error, reason }, 'dingtalk free login failed');
    void deps.audit.record({ type: 'login.failed', ip: ctx.ip, details: { reason, method: 'dingtalk_free_login' } });
    renderLoginError(ctx, deps.pages, {
      code: reason,
      status: statusFor(reason),
      uid: interaction.uid,
      oauthError: oauthErrorFor(error),
    });
  }
}

/** Whether this interaction's free login may still wait: remembers when it first had to. */
async function mayWait(deps: InteractionDeps, uid: string): Promise<boolean> {
  const queueMs = deps.config.dingtalk.callBudget.signInQueueMs;
  const key = `freewait:${uid}`;
  const now = Date.now();
  const since = (await deps.ephemeral.take<number>(key)) ?? now;
  if (now - since >= queueMs) return false;
  await deps.ephemeral.put(key, since, Math.ceil((since + queueMs - now) / 1000) + 60);
  return true;
}
