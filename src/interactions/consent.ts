import type { Context } from 'koa';
import type { InteractionResults } from 'oidc-provider';
import { CLAIM_TEXT, format, messages, SCOPE_TEXT } from '../errors/messages.js';
import { verifyCsrf } from '../ui/csrf.js';
import type { InteractionDeps } from './deps.js';
import { renderPage } from './render.js';

interface ConsentDetails {
  missingOIDCScope?: string[];
  missingOIDCClaims?: string[];
  missingResourceScopes?: Record<string, string[]>;
}

/** The consent page: the application, and what it asks for in plain words. */
export async function showConsent(
  deps: InteractionDeps,
  ctx: Context,
  interaction: { uid: string; prompt: { details: unknown }; session?: { accountId?: string } },
  clientName: string,
): Promise<void> {
  const { pages } = deps;
  const locale = pages.localeOf(ctx.get('accept-language'));
  const t = messages(locale);
  const details = interaction.prompt.details as ConsentDetails;
  const items: { title: string; detail?: string }[] = [];
  for (const scope of details.missingOIDCScope ?? []) {
    items.push({ title: SCOPE_TEXT[scope]?.[locale] ?? scope });
  }
  const claims = (details.missingOIDCClaims ?? []).filter((c) => !['sub', 'sid', 'auth_time', 'acr', 'amr', 'iss'].includes(c));
  if (claims.length > 0) {
    items.push({ title: claims.map((c) => CLAIM_TEXT[c]?.[locale] ?? c).join(locale === 'en' ? ', ' : '、') });
  }
  for (const [resource, scopes] of Object.entries(details.missingResourceScopes ?? {})) {
    items.push({ title: format(t.consentResources, { api: resource, scopes: scopes.join(' ') }) });
  }
  const account = interaction.session?.accountId ? await deps.provisioning.find(interaction.session.accountId) : undefined;
  renderPage(ctx, pages, 'consent', {
    title: t.consentTitle,
    consentLead: format(t.consentLead, { app: clientName }),
    items,
    signedInAs: account ? format(t.signedInAs, { name: account.name }) : undefined,
    action: `/interaction/${interaction.uid}/consent`,
    csrf: ctx.state.csrfToken!(),
  });
}

/** POST of the consent form: approve (grant and remember) or deny (`access_denied`). */
export async function submitConsent(deps: InteractionDeps, ctx: Context): Promise<void> {
  const body = (ctx.request as unknown as { body?: Record<string, unknown> }).body ?? {};
  verifyCsrf(ctx, body._csrf);
  const provider = deps.holder.current();
  const interaction = await provider.interactionDetails(ctx.req, ctx.res);
  const { prompt, params, session } = interaction;
  const clientId = String(params.client_id);
  if (prompt.name !== 'consent' || !session?.accountId) {
    ctx.status = 303;
    ctx.redirect(`/interaction/${interaction.uid}`);
    return;
  }
  let result: InteractionResults;
  if (body.decision !== 'approve') {
    result = { error: 'access_denied', error_description: 'End-User denied the request' };
    await deps.audit.record({ type: 'consent.denied', accountId: session.accountId, clientId, ip: ctx.ip });
  } else {
    const details = prompt.details as ConsentDetails;
    const grant = interaction.grantId
      ? (await provider.Grant.find(interaction.grantId))!
      : new provider.Grant({ accountId: session.accountId, clientId });
    if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
    if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(details.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    await deps.consents.remember(session.accountId, clientId, {
      scopes: details.missingOIDCScope ?? [],
      claims: details.missingOIDCClaims ?? [],
      resourceScopes: details.missingResourceScopes ?? {},
    });
    await deps.audit.record({
      type: 'consent.given',
      accountId: session.accountId,
      clientId,
      ip: ctx.ip,
      details: { scopes: details.missingOIDCScope ?? [], claims: details.missingOIDCClaims ?? [] },
    });
    result = { consent: { grantId } };
  }
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, {
    mergeWithLastSubmission: result.error === undefined,
  });
  ctx.status = 303;
  ctx.redirect(returnTo);
}
