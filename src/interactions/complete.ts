import type { Context } from 'koa';
import type { Account } from '../db/models/account.js';
import { browserBinding } from './browser.js';
import type { Handover, InteractionDeps } from './deps.js';
import { renderLoginError } from './render.js';

/** GET /interaction/:uid/login?handover=… — the callback's result, in the interaction's browser. */
export async function completeLogin(deps: InteractionDeps, ctx: Context): Promise<void> {
  const provider = deps.holder.current();
  const interaction = await provider.interactionDetails(ctx.req, ctx.res);
  const token = typeof ctx.query.handover === 'string' ? ctx.query.handover : '';
  const handover = token ? await deps.ephemeral.take<Handover>(`login:${token}`) : undefined;
  if (!handover || handover.uid !== interaction.uid || handover.browser !== browserBinding(ctx, false)) {
    renderLoginError(ctx, deps.pages, { code: 'login.state_invalid', status: 400, uid: interaction.uid });
    return;
  }
  await finishLogin(deps, ctx, handover.accountId, String(interaction.params.client_id), 'dingtalk', interaction.uid);
}

/**
 * Record the login and hand the account to oidc-provider, which continues the authorization —
 * unless the application's access policy does not admit this person: then our page says so, and
 * the way back answers the application with access_denied.
 */
export async function finishLogin(
  deps: InteractionDeps,
  ctx: Context,
  accountId: Account['id'],
  clientId: string,
  method: 'dingtalk' | 'dingtalk_free_login',
  uid: string,
): Promise<void> {
  const client = await deps.holder.current().Client.find(clientId);
  if (!(await deps.mayUse(accountId, client))) {
    await deps.audit.record({
      type: 'login.denied',
      accountId,
      clientId,
      ip: ctx.ip,
      details: { reason: 'access.denied', method },
    });
    renderLoginError(ctx, deps.pages, { code: 'access.denied', status: 403, uid, oauthError: 'access_denied' });
    return;
  }
  await deps.audit.record({ type: 'login.succeeded', accountId, clientId, ip: ctx.ip, details: { method } });
  const returnTo = await deps.holder
    .current()
    .interactionResult(ctx.req, ctx.res, { login: { accountId, remember: true } }, { mergeWithLastSubmission: false });
  ctx.set('Cache-Control', 'no-store');
  ctx.status = 303;
  ctx.redirect(returnTo);
}
