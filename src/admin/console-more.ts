/**
 * Console pages of the second increment: clients and resource servers, sessions and consents,
 * signing keys, the DingTalk health check and previews of the login pages. Same rules as
 * console.ts: reads for admins and auditors, changes are CSRF-checked POST forms for admins,
 * post/redirect/get — except where a secret is shown: that page is the POST's answer itself
 * (`no-store`), so the secret is never in a URL, a log line or the history.
 */
import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { AppError } from '../errors/app-error.js';
import { GRANT_TYPES, type GrantType } from '../oidc/clients.js';
import { format, type Locale, messages } from '../errors/messages.js';
import { createPageRenderer } from '../ui/pages.js';
import { type ClientForm, PRESET_NAMES, PRESETS, type PresetName } from './ops/clients.js';
import type { AdminUser } from './guard.js';
import { adminMessages } from './messages.js';
import type { AdminRenderer } from './render.js';
import type { Actor } from './ops/actor.js';
import type { AdminOps } from './ops/index.js';
import { pageOf } from './ops/paging.js';

export interface MorePagesDeps {
  service: AdminOps;
  render: AdminRenderer;
  signedIn: Middleware;
  form: Middleware;
  writer: (ctx: Context) => Actor;
  fields: (ctx: Context) => Record<string, unknown>;
}

const lines = (value: unknown): string[] =>
  (typeof value === 'string' ? value : '')
    .split(/[\s,，]+/)
    .map((part) => part.trim())
    .filter((part) => part !== '');
const text = (value: unknown): string => (typeof value === 'string' ? value.trim() : '');
const checked = (value: unknown): boolean => value === 'on' || value === 'true';

/**
 * The client form's fields (textareas: one URI per line). The grant types follow the service-account
 * box: on creation, a client without redirect URIs is a service only; on edit, only
 * client_credentials is added or taken away (`current`), the rest stays as it is.
 */
function clientFormOf(body: Record<string, unknown>, current?: { grantTypes: string[] }): ClientForm {
  const creating = current === undefined;
  const form: ClientForm = {
    redirectUris: lines(body.redirectUris),
    postLogoutRedirectUris: lines(body.postLogoutRedirectUris),
    backchannelLogoutUri: text(body.backchannelLogoutUri) || null,
    firstParty: checked(body.firstParty),
    groupsIncludeDepartments: checked(body.groupsIncludeDepartments),
  };
  const name = text(body.name);
  if (name || !creating) form.name = name;
  const roles = lines(body.policyRoles);
  const departments = lines(body.policyDepartments).map((d) => {
    if (!/^\d{1,12}$/.test(d)) throw new AppError('clients.invalid_metadata', `department ids are numbers (${d})`, { status: 400 });
    return Number(d);
  });
  form.accessPolicy = { roles, departments };
  const claims = text(body.idTokenClaims);
  if (claims === '*') form.idTokenClaims = true;
  else if (claims) form.idTokenClaims = lines(claims);
  else if (!creating) form.idTokenClaims = null;
  const resources = lines(body.allowedResources);
  form.allowedResources = Object.fromEntries(resources.map((uri) => [uri, []]));
  form.serviceRoles = lines(body.serviceRoles);
  const service = checked(body.clientCredentials);
  if (current) {
    const others = current.grantTypes.filter(
      (grant): grant is GrantType => grant !== 'client_credentials' && (GRANT_TYPES as readonly string[]).includes(grant),
    );
    form.grantTypes = service ? [...others, 'client_credentials'] : others;
  } else if (service) {
    form.grantTypes =
      (form.redirectUris ?? []).length > 0 ? ['authorization_code', 'refresh_token', 'client_credentials'] : ['client_credentials'];
  }
  if (creating) {
    const clientId = text(body.clientId);
    if (clientId) form.clientId = clientId;
    const preset = text(body.preset);
    if (preset) {
      if (!(PRESET_NAMES as readonly string[]).includes(preset))
        throw new AppError('clients.invalid_metadata', 'unknown preset', { status: 400 });
      form.preset = preset as PresetName;
      form.baseUrl = text(body.baseUrl);
      // A preset fills what the form leaves empty; the checkboxes' "off" is not a choice here.
      if (!checked(body.groupsIncludeDepartments)) delete form.groupsIncludeDepartments;
      if (!claims) delete form.idTokenClaims;
    }
    if (checked(body.public)) form.public = true;
    const auth = text(body.tokenEndpointAuthMethod);
    if (auth === 'client_secret_basic' || auth === 'client_secret_post') form.tokenEndpointAuthMethod = auth;
  }
  return form;
}

/** `&failed=N` for the notice that N back-channel logout deliveries failed (nothing when none did). */
export const failedParam = (count: number): string => (count > 0 ? `&failed=${count}` : '');

export const PREVIEW_PAGES = ['login', 'consent', 'error', 'logout', 'logged-out'] as const;

export function registerMorePages(router: Router, deps: MorePagesDeps): void {
  const { service, render, signedIn, form, writer, fields } = deps;
  const a = (ctx: Context) => adminMessages(render.localeOf(ctx));
  const done = (ctx: Context): string => (typeof ctx.query.done === 'string' ? ctx.query.done.slice(0, 40) : '');
  const secretPage = (ctx: Context, clientId: string, clientSecret: string, created: boolean) => {
    ctx.set('Cache-Control', 'no-store');
    render.page(ctx, 'client-secret', { title: a(ctx).clientSecret, section: 'clients', clientId, clientSecret, created });
  };

  // Clients and resource servers
  router.get('/clients', signedIn, async (ctx) => {
    const q = text(ctx.query.q);
    const { page, pageSize } = pageOf(ctx.query);
    const [clients, resources] = await Promise.all([
      service.listClients({ q, page, pageSize }),
      service.listResourceServers(pageOf({ page: ctx.query.rsPage }).page, 50),
    ]);
    render.page(ctx, 'clients', { title: a(ctx).navClients, section: 'clients', clients, resources, q, presets: PRESETS, done: done(ctx) });
  });
  router.post('/clients', signedIn, form, async (ctx) => {
    const actor = writer(ctx);
    const { client, clientSecret } = await service.createClient(clientFormOf(fields(ctx)), actor);
    if (clientSecret) secretPage(ctx, client.clientId, clientSecret, true);
    else ctx.redirect(`/admin/clients/${encodeURIComponent(client.clientId)}?done=created`);
  });
  router.get('/clients/:id', signedIn, async (ctx) => {
    const client = await service.getClient(ctx.params.id!);
    render.page(ctx, 'client', { title: client.name, section: 'clients', client, done: done(ctx) });
  });
  router.post('/clients/:id', signedIn, form, async (ctx) => {
    const actor = writer(ctx);
    const current = await service.getClient(ctx.params.id!);
    const client = await service.updateClient(ctx.params.id!, clientFormOf(fields(ctx), current), actor);
    ctx.redirect(`/admin/clients/${encodeURIComponent(client.clientId)}?done=saved`);
  });
  router.post('/clients/:id/rotate-secret', signedIn, form, async (ctx) => {
    const actor = writer(ctx);
    const { clientId, clientSecret } = await service.rotateClientSecret(ctx.params.id!, actor);
    secretPage(ctx, clientId, clientSecret, false);
  });
  router.post('/clients/:id/delete', signedIn, form, async (ctx) => {
    const actor = writer(ctx);
    await service.deleteClient(ctx.params.id!, actor);
    ctx.redirect('/admin/clients?done=client_removed');
  });
  router.post('/resource-servers', signedIn, form, async (ctx) => {
    const actor = writer(ctx);
    const body = fields(ctx);
    const scopes = lines(body.scopes);
    const tokenFormat = text(body.tokenFormat) === 'opaque' ? 'opaque' : 'jwt';
    await service.createResourceServer(
      { identifier: text(body.identifier), ...(text(body.name) ? { name: text(body.name).slice(0, 100) } : {}), scopes, tokenFormat },
      actor,
    );
    ctx.redirect('/admin/clients?done=resource_added');
  });
  router.post('/resource-servers/delete', signedIn, form, async (ctx) => {
    const actor = writer(ctx);
    await service.deleteResourceServer(text(fields(ctx).identifier), actor);
    ctx.redirect('/admin/clients?done=resource_removed');
  });

  // Sessions and consents
  router.get('/sessions', signedIn, async (ctx) => {
    const account = text(ctx.query.account);
    const client = text(ctx.query.client);
    const filter = { ...(account ? { account } : {}), ...(client ? { client } : {}) };
    const [sessions, consents] = await Promise.all([
      service.listSessions({ ...filter, ...pageOf(ctx.query, 20) }),
      service.listConsents({ ...filter, ...pageOf({ page: ctx.query.consentsPage }) }),
    ]);
    const params = new URLSearchParams(filter).toString();
    render.page(ctx, 'sessions', {
      title: a(ctx).navSessions,
      section: 'sessions',
      sessions,
      consents,
      filters: filter,
      params,
      done: done(ctx),
    });
  });
  router.post('/sessions/:uid/revoke', signedIn, form, async (ctx) => {
    const actor = writer(ctx);
    const { failures } = await service.revokeSession(ctx.params.uid!, actor);
    ctx.redirect(`/admin/sessions?done=session_revoked${failedParam(failures.length)}${returnFilter(fields(ctx))}`);
  });
  router.post('/consents/revoke', signedIn, form, async (ctx) => {
    const actor = writer(ctx);
    await service.revokeConsent(text(fields(ctx).account), text(fields(ctx).client), actor);
    ctx.redirect(`/admin/sessions?done=consent_revoked${returnFilter(fields(ctx))}`);
  });
  router.post('/apps/revoke', signedIn, form, async (ctx) => {
    const actor = writer(ctx);
    const { failures } = await service.revokeAccountApp(text(fields(ctx).account), text(fields(ctx).client), actor, {
      consent: checked(fields(ctx).consent),
    });
    ctx.redirect(`/admin/sessions?done=app_revoked${failedParam(failures.length)}${returnFilter(fields(ctx))}`);
  });

  // Keys
  router.get('/keys', signedIn, async (ctx) => {
    render.page(ctx, 'keys', { title: a(ctx).navKeys, section: 'keys', keys: await service.listKeys(), done: done(ctx) });
  });
  router.post('/keys/rotate', signedIn, form, async (ctx) => {
    const actor = writer(ctx);
    await service.rotateKey(text(fields(ctx).alg) || 'RS256', checked(fields(ctx).immediate), actor);
    ctx.redirect('/admin/keys?done=rotated');
  });
  router.post('/keys/:kid/retire', signedIn, form, async (ctx) => {
    const actor = writer(ctx);
    await service.retireKey(ctx.params.kid!, actor);
    ctx.redirect('/admin/keys?done=retired');
  });

  // DingTalk
  router.get('/dingtalk', signedIn, async (ctx) => {
    const health = await service.dingtalkHealth((ctx.state.adminUser as AdminUser).accountId);
    render.page(ctx, 'dingtalk', { title: a(ctx).navDingtalk, section: 'dingtalk', health });
  });

  // Page previews: the real templates with sample data, rendered as the page itself (no iframe).
  const pages = createPageRenderer();
  router.get('/previews', signedIn, (ctx) => {
    render.page(ctx, 'previews', { title: a(ctx).navPreviews, section: 'previews', pages: PREVIEW_PAGES });
  });
  router.get('/previews/:page', signedIn, async (ctx, next) => {
    const page = PREVIEW_PAGES.find((name) => name === ctx.params.page);
    if (!page) {
      await next();
      return;
    }
    const locale: Locale = ctx.query.lang === 'en' ? 'en' : ctx.query.lang === 'zh-CN' ? 'zh-CN' : render.localeOf(ctx);
    ctx.set('Cache-Control', 'no-store');
    ctx.type = 'html';
    ctx.body = pages.render(page, locale, previewData(page, locale));
  });
}

function returnFilter(body: Record<string, unknown>): string {
  const params = new URLSearchParams();
  for (const name of ['filterAccount', 'filterClient'] as const) {
    const value = text(body[name]);
    if (value) params.set(name === 'filterAccount' ? 'account' : 'client', value);
  }
  const query = params.toString();
  return query ? `&${query}` : '';
}

/** Sample data for each page, as the interaction routes would give it; every link goes nowhere. */
function previewData(page: (typeof PREVIEW_PAGES)[number], locale: Locale): Record<string, unknown> {
  const t = messages(locale);
  const app = locale === 'en' ? 'Grafana (sample)' : 'Grafana（示例）';
  switch (page) {
    case 'login':
      return { title: t.loginTitle, loginLead: format(t.loginLead, { app }), dingtalkUrl: '#', abortUrl: '#', freeLogin: undefined };
    case 'consent':
      return {
        title: t.consentTitle,
        consentLead: format(t.consentLead, { app }),
        items:
          locale === 'en'
            ? [{ title: 'Your name and avatar' }, { title: 'Your email address' }, { title: 'Your roles and groups' }]
            : [{ title: '您的姓名和头像' }, { title: '您的邮箱地址' }, { title: '您的角色和分组' }],
        signedInAs: format(t.signedInAs, { name: locale === 'en' ? 'Wang Jianguo' : '王建国' }),
        action: '#',
        csrf: 'preview',
      };
    case 'error':
      return { title: t.errorTitle, message: t.errorGeneric, code: 'access_denied' };
    case 'logout':
      return {
        title: t.logoutTitle,
        form: '<form id="op.logoutForm" method="get" action="#"><input type="hidden" name="preview" value="1"></form>',
      };
    case 'logged-out':
      return { title: t.loggedOutTitle };
  }
}
