/**
 * Interaction routes: how a login travels between oidc-provider and DingTalk.
 *
 *   /auth (oidc-provider) → GET /interaction/:uid            login page, or consent page
 *     → GET /interaction/:uid/dingtalk                        state → DingTalk authorize URL
 *     → DingTalk → GET /dingtalk/callback                     state check, code → account
 *     → GET /interaction/:uid/login?handover=…                interaction finished with the login
 *   (inside DingTalk) POST /interaction/:uid/free-login       JSAPI code → account → finished
 *     → /auth/:uid (oidc-provider) → consent if needed → POST /interaction/:uid/consent
 *   GET /interaction/:uid/abort?error=…                       the app gets an OAuth error
 *
 * Shaped after node-oidc-provider's example/routes/koa.js: render by prompt name, POST finishes,
 * abort answers access_denied. A vanished interaction renders the error page (renderError).
 */
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import { errors } from 'oidc-provider';
import { dingTalkCallback } from './callback.js';
import { completeLogin } from './complete.js';
import { showConsent, submitConsent } from './consent.js';
import type { InteractionDeps } from './deps.js';
import { startDingTalk } from './dingtalk-start.js';
import { freeLogin } from './free-login.js';
import { showLogin } from './login.js';
import { renderLoginError } from './render.js';

export function createInteractionRouter(deps: InteractionDeps): Router {
  const router = new Router();
  const form = bodyParser({ enableTypes: ['form'], formLimit: '16kb' });

  // An interaction that expired or finished: the same page, pointing back to the app.
  async function interactionGone(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
    } catch (error) {
      if (error instanceof errors.SessionNotFound) {
        renderLoginError(ctx, deps.pages, { code: 'interaction.expired', status: 400 });
        return;
      }
      throw error;
    }
  }

  router.get('/interaction/:uid', interactionGone, async (ctx) => {
    const provider = deps.holder.current();
    const interaction = await provider.interactionDetails(ctx.req, ctx.res);
    const client = await provider.Client.find(String(interaction.params.client_id));
    const clientName = client?.clientName ?? String(interaction.params.client_id);
    switch (interaction.prompt.name) {
      case 'login':
        // Signed in already, but this application's access policy does not admit the person.
        if (interaction.prompt.reasons.includes('access_policy')) {
          return renderLoginError(ctx, deps.pages, { code: 'access.denied', status: 403, uid: interaction.uid });
        }
        return showLogin(deps, ctx, interaction.uid, clientName);
      case 'consent':
        return showConsent(deps, ctx, interaction, clientName);
      default:
        renderLoginError(ctx, deps.pages, { code: 'interaction.expired', status: 400, uid: interaction.uid });
    }
  });
  router.get('/interaction/:uid/dingtalk', interactionGone, (ctx) => startDingTalk(deps, ctx));
  router.get('/interaction/:uid/login', interactionGone, (ctx) => completeLogin(deps, ctx));
  router.post('/interaction/:uid/free-login', interactionGone, form, (ctx) => freeLogin(deps, ctx));
  router.post('/interaction/:uid/consent', interactionGone, form, (ctx) => submitConsent(deps, ctx));
  router.get('/interaction/:uid/abort', interactionGone, async (ctx) => {
    // A link on our own pages; another site must not end someone's sign-in (Fetch Metadata).
    const site = ctx.get('sec-fetch-site');
    if (site && site !== 'same-origin' && site !== 'none') {
      ctx.status = 303;
      ctx.redirect(`/interaction/${ctx.params.uid}`);
      return;
    }
    const provider = deps.holder.current();
    await provider.interactionDetails(ctx.req, ctx.res);
    const error = ctx.query.error === 'temporarily_unavailable' ? 'temporarily_unavailable' : 'access_denied';
    const returnTo = await provider.interactionResult(
      ctx.req,
      ctx.res,
      { error, error_description: error === 'access_denied' ? 'End-User aborted interaction' : 'DingTalk is unavailable' },
      { mergeWithLastSubmission: false },
    );
    ctx.set('Cache-Control', 'no-store');
    ctx.status = 303;
    ctx.redirect(returnTo);
  });
  router.get('/dingtalk/callback', (ctx) => dingTalkCallback(deps, ctx));
  return router;
}
