/**
 * Console: clients (with presets) and resource servers. Where a secret is shown (a new client, a
 * rotation), the page is the POST's answer itself (`no-store`), so the secret is never in a URL, a
 * log line or the history.
 */
import type { Context } from 'koa';
import { AppError } from '../../errors/app-error.js';
import { GRANT_TYPES, type GrantType } from '../../oidc/clients.js';
import { type ClientForm, PRESET_NAMES, PRESETS, type PresetName } from '../ops/clients.js';
import { pageOf } from '../ops/paging.js';
import { checked, type ConsolePages, doneOf, fieldsOf, lines, text } from './context.js';
import { adminMessages } from './messages.js';

export function registerClientPages({ router, ops, render, signedIn, form, writer }: ConsolePages): void {
  const secretPage = (ctx: Context, clientId: string, clientSecret: string, created: boolean) => {
    ctx.set('Cache-Control', 'no-store');
    render.page(ctx, 'client-secret', {
      title: adminMessages(render.localeOf(ctx)).clientSecret,
      section: 'clients',
      clientId,
      clientSecret,
      created,
    });
  };

  // Clients and resource servers
  router.get('/clients', signedIn, async (ctx) => {
    const q = text(ctx.query.q);
    const { page, pageSize } = pageOf(ctx.query);
    const [clients, resources] = await Promise.all([
      ops.listClients({ q, page, pageSize }),
      ops.listResourceServers(pageOf({ page: ctx.query.rsPage }).page, 50),
    ]);
    render.page(ctx, 'clients', {
      title: adminMessages(render.localeOf(ctx)).navClients,
      section: 'clients',
      clients,
      resources,
      q,
      presets: PRESETS,
      done: doneOf(ctx),
    });
  });
  router.post('/clients', signedIn, form, async (ctx) => {
    const actor = writer(ctx);
    const { client, clientSecret } = await ops.createClient(clientFormOf(fieldsOf(ctx)), actor);
    if (clientSecret) secretPage(ctx, client.clientId, clientSecret, true);
    else ctx.redirect(`/admin/clients/${encodeURIComponent(client.clientId)}?done=created`);
  });
  router.get('/clients/:id', signedIn, async (ctx) => {
    const client = await ops.getClient(ctx.params.id!);
    render.page(ctx, 'client', { title: client.name, section: 'clients', client, done: doneOf(ctx) });
  });
  router.post('/clients/:id', signedIn, form, async (ctx) => {
    const actor = writer(ctx);
    const current = await ops.getClient(ctx.params.id!);
    const client = await ops.updateClient(ctx.params.id!, clientFormOf(fieldsOf(ctx), current), actor);
    ctx.redirect(`/admin/clients/${encodeURIComponent(client.clientId)}?done=saved`);
  });
  router.post('/clients/:id/rotate-secret', signedIn, form, async (ctx) => {
    const actor = writer(ctx);
    const { clientId, clientSecret } = await ops.rotateClientSecret(ctx.params.id!, actor);
    secretPage(ctx, clientId, clientSecret, false);
  });
  router.post('/clients/:id/delete', signedIn, form, async (ctx) => {
    const actor = writer(ctx);
    await ops.deleteClient(ctx.params.id!, actor);
    ctx.redirect('/admin/clients?done=client_removed');
  });
  router.post('/resource-servers', signedIn, form, async (ctx) => {
    const actor = writer(ctx);
    const body = fieldsOf(ctx);
    const scopes = lines(body.scopes);
    const tokenFormat = text(body.tokenFormat) === 'opaque' ? 'opaque' : 'jwt';
    await ops.createResourceServer(
      { identifier: text(body.identifier), ...(text(body.name) ? { name: text(body.name).slice(0, 100) } : {}), scopes, tokenFormat },
      actor,
    );
    ctx.redirect('/admin/clients?done=resource_added');
  });
  router.post('/resource-servers/delete', signedIn, form, async (ctx) => {
    const actor = writer(ctx);
    await ops.deleteResourceServer(text(fieldsOf(ctx).identifier), actor);
    ctx.redirect('/admin/clients?done=resource_removed');
  });
}

/**
 * The client form's fields (textareas: one URI per line) in the shape of the client schema
 * (ops/client-schema.ts), which the operations check. The grant types follow the service-account
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
