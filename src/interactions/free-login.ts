import type { Context } from 'koa';
import { verifyCsrf } from '../ui/csrf.js';
import { finishLogin } from './complete.js';
import type { InteractionDeps } from './deps.js';
import { statusFor } from './callback.js';
import { failureCode, oauthErrorFor, renderLoginError } from './render.js';

/**
 * POST /interaction/:uid/free-login — inside the DingTalk client the page gets a one-time code
 * from the JSAPI (`requestAuthCode`) and posts it here (dingtalk-api.md §4).
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
