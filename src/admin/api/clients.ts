/** Admin API: clients (presets, create, update, delete, rotate the secret) and resource servers. */
import { GRANT_TYPES, type GrantType } from '../../oidc/clients.js';
import { type ClientForm, PRESET_NAMES, type PresetName } from '../ops/clients.js';
import { pageOf } from '../ops/paging.js';
import { actorOf, type ApiRoutes, bad, bodyOf, str, stringList } from './context.js';

export function registerClientRoutes({ router, ops }: ApiRoutes): void {
  router.get('/clients', async (ctx) => {
    const q = typeof ctx.query.q === 'string' ? ctx.query.q : undefined;
    ctx.body = await ops.listClients({ ...(q ? { q } : {}), ...pageOf(ctx.query) });
  });
  router.get('/clients/presets', (ctx) => {
    ctx.body = ops.presets;
  });
  router.get('/clients/:id', async (ctx) => {
    ctx.body = await ops.getClient(ctx.params.id!);
  });
  router.post('/clients', async (ctx) => {
    const actor = actorOf(ctx);
    const result = await ops.createClient(clientForm(bodyOf(ctx)), actor);
    ctx.status = 201;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = result;
  });
  router.patch('/clients/:id', async (ctx) => {
    const actor = actorOf(ctx);
    ctx.body = await ops.updateClient(ctx.params.id!, clientForm(bodyOf(ctx)), actor);
  });
  router.delete('/clients/:id', async (ctx) => {
    ctx.body = await ops.deleteClient(ctx.params.id!, actorOf(ctx));
  });
  router.post('/clients/:id/rotate-secret', async (ctx) => {
    const actor = actorOf(ctx);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await ops.rotateClientSecret(ctx.params.id!, actor);
  });
  router.get('/resource-servers', async (ctx) => {
    const { page, pageSize } = pageOf(ctx.query, 100);
    ctx.body = await ops.listResourceServers(page, pageSize);
  });
  router.post('/resource-servers', async (ctx) => {
    const input = bodyOf(ctx);
    const actor = actorOf(ctx);
    const scopes = input.scopes === undefined ? undefined : stringList(input.scopes, 'scopes');
    const tokenFormat = input.tokenFormat;
    if (tokenFormat !== undefined && tokenFormat !== 'jwt' && tokenFormat !== 'opaque') throw bad('tokenFormat is jwt or opaque');
    const ttl = input.accessTokenTtl;
    if (ttl !== undefined && typeof ttl !== 'number') throw bad('accessTokenTtl is a number of seconds');
    ctx.status = 201;
    ctx.body = await ops.createResourceServer(
      {
        identifier: str(input.identifier, 'identifier')!,
        ...(typeof input.name === 'string' && input.name ? { name: input.name.slice(0, 100) } : {}),
        ...(scopes ? { scopes } : {}),
        ...(tokenFormat ? { tokenFormat } : {}),
        ...(ttl === undefined ? {} : { accessTokenTtl: ttl }),
      },
      actor,
    );
  });
  // The identifier is a URI: given as a query parameter, not a path segment.
  router.delete('/resource-servers', async (ctx) => {
    const actor = actorOf(ctx);
    ctx.body = await ops.deleteResourceServer(str(ctx.query.identifier, 'identifier')!, actor);
  });
}

/** A client's settings from JSON; absent fields are left out (an update keeps them). */
export function clientForm(input: Record<string, unknown>): ClientForm {
  const form: ClientForm = {};
  const optionalString = (name: string): string | undefined => {
    const value = input[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string' || value.length > 2000) throw bad(`${name} is a string`);
    return value;
  };
  const flag = (name: string): boolean | undefined => {
    const value = input[name];
    if (value === undefined) return undefined;
    if (typeof value !== 'boolean') throw bad(`${name} is true or false`);
    return value;
  };
  const name = optionalString('name');
  if (name !== undefined) form.name = name;
  const clientId = optionalString('clientId');
  if (clientId !== undefined) form.clientId = clientId;
  const preset = optionalString('preset');
  if (preset !== undefined) {
    if (!(PRESET_NAMES as readonly string[]).includes(preset)) throw bad(`preset is one of ${PRESET_NAMES.join(', ')}`);
    form.preset = preset as PresetName;
  }
  const baseUrl = optionalString('baseUrl');
  if (baseUrl !== undefined) form.baseUrl = baseUrl;
  if (input.redirectUris !== undefined) form.redirectUris = stringList(input.redirectUris, 'redirectUris');
  if (input.postLogoutRedirectUris !== undefined)
    form.postLogoutRedirectUris = stringList(input.postLogoutRedirectUris, 'postLogoutRedirectUris');
  if (input.backchannelLogoutUri === null || input.backchannelLogoutUri === '') form.backchannelLogoutUri = null;
  else {
    const uri = optionalString('backchannelLogoutUri');
    if (uri !== undefined) form.backchannelLogoutUri = uri;
  }
  const firstParty = flag('firstParty');
  if (firstParty !== undefined) form.firstParty = firstParty;
  const isPublic = flag('public');
  if (isPublic !== undefined) form.public = isPublic;
  const groups = flag('groupsIncludeDepartments');
  if (groups !== undefined) form.groupsIncludeDepartments = groups;
  const pkce = flag('pkceRequired');
  if (pkce !== undefined) form.pkceRequired = pkce;
  if (input.grantTypes !== undefined) {
    const grants = stringList(input.grantTypes, 'grantTypes');
    if (!grants.every((g) => (GRANT_TYPES as readonly string[]).includes(g))) throw bad(`grantTypes are among ${GRANT_TYPES.join(', ')}`);
    form.grantTypes = grants as GrantType[];
  }
  const auth = optionalString('tokenEndpointAuthMethod');
  if (auth !== undefined) {
    if (auth !== 'client_secret_basic' && auth !== 'client_secret_post' && auth !== 'private_key_jwt') {
      throw bad('tokenEndpointAuthMethod is client_secret_basic, client_secret_post or private_key_jwt (public: true for none)');
    }
    form.tokenEndpointAuthMethod = auth;
  }
  // null or '' removes them (a private_key_jwt client without jwksUri is then refused).
  for (const field of ['jwksUri', 'scope'] as const) {
    if (input[field] === null || input[field] === '') form[field] = null;
    else {
      const value = optionalString(field);
      if (value !== undefined) form[field] = value;
    }
  }
  if (input.accessPolicy !== undefined) {
    const policy = input.accessPolicy;
    if (!policy || typeof policy !== 'object' || Array.isArray(policy)) throw bad('accessPolicy is { roles?, departments? }');
    const { roles, departments } = policy as Record<string, unknown>;
    if (departments !== undefined && (!Array.isArray(departments) || !departments.every((d) => Number.isInteger(d) && (d as number) > 0))) {
      throw bad('accessPolicy.departments is a list of DingTalk department ids');
    }
    form.accessPolicy = {
      roles: roles === undefined ? [] : stringList(roles, 'accessPolicy.roles'),
      departments: (departments as number[] | undefined) ?? [],
    };
  }
  if (input.idTokenClaims !== undefined) {
    const claims = input.idTokenClaims;
    if (claims === null || claims === true) form.idTokenClaims = claims;
    else form.idTokenClaims = stringList(claims, 'idTokenClaims');
  }
  if (input.allowedResources !== undefined) {
    const resources = input.allowedResources;
    if (!resources || typeof resources !== 'object' || Array.isArray(resources))
      throw bad('allowedResources maps resource URIs to scope lists');
    form.allowedResources = Object.fromEntries(
      Object.entries(resources as Record<string, unknown>).map(([uri, scopes]) => [
        uri,
        Array.isArray(scopes) && scopes.length === 0 ? [] : stringList(scopes, `allowedResources[${uri}]`),
      ]),
    );
  }
  if (input.serviceRoles !== undefined)
    form.serviceRoles = input.serviceRoles === null ? [] : stringList(input.serviceRoles, 'serviceRoles');
  return form;
}
