import type { Context } from 'koa';
import { browserBinding, randomToken } from './browser.js';
import { type InteractionDeps, type LoginState, STATE_TTL_SECONDS } from './deps.js';

/**
 * GET /interaction/:uid/dingtalk — off to DingTalk with a `state` that is random, single-use,
 * short-lived, kept in Redis and bound to this interaction and this browser.
 */
export async function startDingTalk(deps: InteractionDeps, ctx: Context): Promise<void> {
  const provider = deps.holder.current();
  const interaction = await provider.interactionDetails(ctx.req, ctx.res);
  if (interaction.prompt.name !== 'login') {
    ctx.status = 303;
    ctx.redirect(`/interaction/${interaction.uid}`);
    return;
  }
  const state = randomToken();
  const record: LoginState = { uid: interaction.uid, browser: browserBinding(ctx, true)! };
  await deps.ephemeral.put(`state:${state}`, record, STATE_TTL_SECONDS);
  ctx.set('Cache-Control', 'no-store');
  ctx.status = 303;
  ctx.redirect(deps.dingtalk.authorizationUrl({ redirectUri: `${deps.config.issuer}/dingtalk/callback`, state }));
}
