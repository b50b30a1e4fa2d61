/**
 * The admin API (JSON under /admin/api): what the console does, for automation. Bearer JWT access
 * tokens of our own issuer for the admin resource server (guard.ts); errors are always
 * `{ code, message }` with 400/401/403/404/409, and anything unexpected a generic 500.
 */
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import { AppError } from '../errors/app-error.js';
import type { Logger } from '../log.js';
import { bearerGuard, type GuardDeps, requireWrite, type AdminUser } from './guard.js';
import type { Actor } from './ops/actor.js';
import { accountClientFilterOf, auditFilterOf, inboxStatusOf } from './ops/filters.js';
import type { AdminOps } from './ops/index.js';
import { pageOf, paginate } from './ops/paging.js';
import type { TokenVerifier } from './verify.js';
import { type ClientForm, PRESET_NAMES, type PresetName } from './ops/clients.js';
import { GRANT_TYPES, type GrantType } from '../oidc/clients.js';

export interface AdminApiDeps extends GuardDeps {
  service: AdminOps;
  verifier: TokenVerifier;
  /** The admin resource server's identifier (`${issuer}/admin`). */
  audience: string;
  logger: Logger;
}

export function createAdminApiRouter(deps: AdminApiDeps): Router {
  const { service } = deps;
  const router = new Router({ prefix: '/admin/api' });
  const json = bodyParser({ enableTypes: ['json'], jsonLimit: '64kb', encoding: 'utf-8' });

  router.use(jsonErrors(deps.logger), bearerGuard(deps), json);

  const actorOf = (ctx: Context): Actor => {
    const user = requireWrite(ctx);
    return { accountId: user.accountId, via: 'api', ip: ctx.ip, ...(user.clientId ? { clientId: user.clientId } : {}) };
  };
  const body = (ctx: Context): Record<string, unknown> => {
    const value = (ctx.request as { body?: unknown }).body;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  };
  const str = (value: unknown, field: string, required = true): string | undefined => {
    if (value === undefined || value === null || value === '') {
      if (required) throw new AppError('admin.invalid_request', `${field} is required`, { status: 400 });
      return undefined;
    }
    if (typeof value !== 'string' || value.length > 512)
      throw new AppError('admin.invalid_request', `${field} is a string`, { status: 400 });
    return value;
  };

  router.get('/me', (ctx) => {
    const user = ctx.state.adminUser as AdminUser;
    ctx.body = { accountId: user.accountId, name: user.name, level: user.level, kind: user.kind ?? 'person' };
  });

  // Accounts
  router.get('/accounts', async (ctx) => {
    const q = typeof ctx.query.q === 'string' ? ctx.query.q : undefined;
    const status = typeof ctx.query.status === 'string' ? ctx.query.status : undefined;
    ctx.body = await service.searchAccounts({ ...(q ? { q } : {}), ...(status ? { status } : {}), ...pageOf(ctx.query) });
  });
  router.get('/accounts/:id', async (ctx) => {
    ctx.body = await service.accountDetail(ctx.params.id!);
  });
  router.post('/accounts/:id/disable', async (ctx) => {
    ctx.body = await service.disableAccount(ctx.params.id!, actorOf(ctx), str(body(ctx).reason, 'reason', false));
  });
  router.post('/accounts/:id/enable', async (ctx) => {
    ctx.body = await service.enableAccount(ctx.params.id!, actorOf(ctx));
  });
  router.post('/accounts/:id/revoke', async (ctx) => {
    ctx.body = await service.revokeAccount(ctx.params.id!, actorOf(ctx));
  });
  router.post('/accounts/:id/sync', async (ctx) => {
    ctx.body = await service.syncAccount(ctx.params.id!, actorOf(ctx));
  });

  // Role rules (before /roles/:name, which would otherwise take "rules" as a role name)
  router.get('/roles/rules', async (ctx) => {
    const { page, pageSize } = pageOf(ctx.query, 100);
    ctx.body = paginate(await service.listRules(), page, pageSize);
  });
  router.post('/roles/rules/preview', async (ctx) => {
    const input = ruleInput(body(ctx));
    const accounts = await service.previewRule(input);
    const { page, pageSize } = pageOf(ctx.query, 100);
    ctx.body = paginate(accounts, page, pageSize);
  });
  router.post('/roles/rules', async (ctx) => {
    const input = body(ctx);
    const actor = actorOf(ctx);
    const { rule, changes } = await service.addRule(
      { ...ruleInput(input), role: str(input.role, 'role')!, description: str(input.description, 'description', false) ?? null },
      actor,
    );
    ctx.status = 201;
    ctx.body = { rule, changes };
  });
  router.delete('/roles/rules/:id', async (ctx) => {
    const id = ctx.params.id ?? '';
    if (!/^\d{1,9}$/.test(id)) throw new AppError('roles.rule_not_found', `no rule #${id}`, { status: 404 });
    ctx.body = await service.removeRule(Number(id), actorOf(ctx));
  });

  // Roles
  router.get('/roles', async (ctx) => {
    const { page, pageSize } = pageOf(ctx.query, 100);
    ctx.body = paginate(await service.listRoles(), page, pageSize);
  });
  router.post('/roles', async (ctx) => {
    const input = body(ctx);
    const actor = actorOf(ctx);
    ctx.status = 201;
    ctx.body = await service.createRole(str(input.name, 'name')!, str(input.description, 'description', false) ?? null, actor);
  });
  router.delete('/roles/:name', async (ctx) => {
    ctx.body = await service.deleteRole(ctx.params.name!, actorOf(ctx));
  });
  router.post('/roles/:name/assign', async (ctx) => {
    const actor = actorOf(ctx);
    ctx.body = await service.assignRole(ctx.params.name!, str(body(ctx).account, 'account')!, actor);
  });
  router.post('/roles/:name/unassign', async (ctx) => {
    const actor = actorOf(ctx);
    const change = await service.unassignRole(ctx.params.name!, str(body(ctx).account, 'account')!, actor);
    ctx.body = change ?? { unassigned: false };
  });

  // Audit
  router.get('/audit', async (ctx) => {
    const { pageSize } = pageOf(ctx.query, 50);
    ctx.body = await service.auditPage(auditFilterOf(ctx.query), pageSize);
  });
  router.get('/audit.csv', async (ctx) => {
    const csv = await service.auditCsv(auditFilterOf(ctx.query));
    ctx.type = 'text/csv; charset=utf-8';
    ctx.attachment('audit.csv');
    ctx.body = csv;
  });

  // Clients and resource servers
  router.get('/clients', async (ctx) => {
    const q = typeof ctx.query.q === 'string' ? ctx.query.q : undefined;
    ctx.body = await service.listClients({ ...(q ? { q } : {}), ...pageOf(ctx.query) });
  });
  router.get('/clients/presets', (ctx) => {
    ctx.body = service.presets;
  });
  router.get('/clients/:id', async (ctx) => {
    ctx.body = await service.getClient(ctx.params.id!);
  });
  router.post('/clients', async (ctx) => {
    const actor = actorOf(ctx);
    const result = await service.createClient(clientForm(body(ctx)), actor);
    ctx.status = 201;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = result;
  });
  router.patch('/clients/:id', async (ctx) => {
    const actor = actorOf(ctx);
    ctx.body = await service.updateClient(ctx.params.id!, clientForm(body(ctx)), actor);
  });
  router.delete('/clients/:id', async (ctx) => {
    ctx.body = await service.deleteClient(ctx.params.id!, actorOf(ctx));
  });
  router.post('/clients/:id/rotate-secret', async (ctx) => {
    const actor = actorOf(ctx);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await service.rotateClientSecret(ctx.params.id!, actor);
  });
  router.get('/resource-servers', async (ctx) => {
    const { page, pageSize } = pageOf(ctx.query, 100);
    ctx.body = await service.listResourceServers(page, pageSize);
  });
  router.post('/resource-servers', async (ctx) => {
    const input = body(ctx);
    const actor = actorOf(ctx);
    const scopes = input.scopes === undefined ? undefined : stringList(input.scopes, 'scopes');
    const tokenFormat = input.tokenFormat;
    if (tokenFormat !== undefined && tokenFormat !== 'jwt' && tokenFormat !== 'opaque') throw bad('tokenFormat is jwt or opaque');
    const ttl = input.accessTokenTtl;
    if (ttl !== undefined && typeof ttl !== 'number') throw bad('accessTokenTtl is a number of seconds');
    ctx.status = 201;
    ctx.body = await service.createResourceServer(
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
    ctx.body = await service.deleteResourceServer(str(ctx.query.identifier, 'identifier')!, actor);
  });

  // Sessions and consents
  router.get('/sessions', async (ctx) => {
    ctx.body = await service.listSessions({ ...accountClientFilterOf(ctx.query), ...pageOf(ctx.query, 20) });
  });
  router.delete('/sessions/:uid', async (ctx) => {
    ctx.body = await service.revokeSession(ctx.params.uid!, actorOf(ctx));
  });
  router.post('/accounts/:id/apps/:client/revoke', async (ctx) => {
    const actor = actorOf(ctx);
    const consent = body(ctx).consent;
    if (consent !== undefined && typeof consent !== 'boolean') throw bad('consent is true or false');
    ctx.body = await service.revokeAccountApp(ctx.params.id!, ctx.params.client!, actor, { consent: consent === true });
  });
  router.get('/consents', async (ctx) => {
    ctx.body = await service.listConsents({ ...accountClientFilterOf(ctx.query), ...pageOf(ctx.query) });
  });
  router.delete('/consents/:account/:client', async (ctx) => {
    ctx.body = await service.revokeConsent(ctx.params.account!, ctx.params.client!, actorOf(ctx));
  });

  // Keys
  router.get('/keys', async (ctx) => {
    ctx.body = { items: await service.listKeys() };
  });
  router.post('/keys/rotate', async (ctx) => {
    const input = body(ctx);
    const actor = actorOf(ctx);
    if (input.immediate !== undefined && typeof input.immediate !== 'boolean') throw bad('immediate is true or false');
    ctx.status = 201;
    ctx.body = await service.rotateKey(str(input.alg, 'alg', false) ?? 'RS256', input.immediate === true, actor);
  });
  router.post('/keys/:kid/retire', async (ctx) => {
    ctx.body = await service.retireKey(ctx.params.kid!, actorOf(ctx));
  });

  // DingTalk
  router.get('/dingtalk/health', async (ctx) => {
    ctx.body = await service.dingtalkHealth((ctx.state.adminUser as AdminUser).accountId);
  });

  // The DingTalk event inbox
  router.get('/events', async (ctx) => {
    const status = inboxStatusOf(ctx.query.status);
    ctx.body = await service.listEvents({ ...(status ? { status } : {}), ...pageOf(ctx.query) });
  });
  router.get('/events/:id', async (ctx) => {
    ctx.body = await service.getEvent(ctx.params.id!);
  });
  router.post('/events/:id/retry', async (ctx) => {
    ctx.body = await service.retryEvent(ctx.params.id!, actorOf(ctx));
  });

  // Unknown paths and methods under /admin/api are JSON too.
  router.all('/{*rest}', () => {
    throw new AppError('admin.not_found', 'no such admin API endpoint', { status: 404 });
  });
  return router;
}

function bad(message: string): AppError {
  return new AppError('admin.invalid_request', message, { status: 400 });
}

function stringList(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || value.length > 50 || !value.every((v) => typeof v === 'string' && v.length > 0 && v.length <= 2000)) {
    throw bad(`${field} is a list of strings`);
  }
  return value as string[];
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

/** Rule fields as the role service takes them; `value` may be one value or a list. */
export function ruleInput(input: Record<string, unknown>): { kind: string; value?: unknown; includeSubDepartments?: boolean } {
  if (typeof input.kind !== 'string') throw new AppError('roles.invalid_rule', 'kind is required', { status: 400 });
  if (input.includeSubDepartments !== undefined && typeof input.includeSubDepartments !== 'boolean') {
    throw new AppError('roles.invalid_rule', 'includeSubDepartments is true or false', { status: 400 });
  }
  return {
    kind: input.kind,
    ...(input.value === undefined ? {} : { value: input.value }),
    ...(input.includeSubDepartments === undefined ? {} : { includeSubDepartments: input.includeSubDepartments }),
  };
}

/** `{ code, message }` for every failure; 401 carries a Bearer challenge (RFC 6750 §3). */
function jsonErrors(logger: Logger) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
    } catch (error) {
      const known = error instanceof AppError;
      const status = known ? error.status : Number((error as { status?: unknown }).status) || 500;
      const safe = status >= 400 && status < 600 ? status : 500;
      let code: string;
      let message: string;
      if (known && error.expose) {
        code = error.code;
        message = error.message;
      } else if (!known && safe < 500) {
        code = 'admin.invalid_request';
        message = 'the request is malformed';
      } else {
        code = 'server_error';
        message = 'the request could not be completed';
      }
      if (safe >= 500) logger.error({ err: error, path: ctx.path }, 'admin API request failed');
      else logger.info({ code, path: ctx.path }, 'admin API request rejected');
      if (safe === 401) {
        const detail = ctx.get('authorization') ? ', error="invalid_token"' : '';
        ctx.set('WWW-Authenticate', `Bearer realm="admin"${detail}`);
      }
      ctx.set('Cache-Control', 'no-store');
      ctx.status = safe;
      ctx.body = { code, message };
    }
  };
}
