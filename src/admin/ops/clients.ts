/**
 * Clients and resource servers for the console and the API: list, create (optionally from a preset
 * for Grafana, GitLab, Jenkins or Argo CD), edit, delete, rotate the secret (returned once, never
 * stored in the clear or audited), and resource servers. A form is checked against the client
 * schema (client-schema.ts), then the metadata by oidc-provider's own validation (`validateClient`)
 * before anything is saved; the store and the validator refuse with typed errors (a 400
 * `clients.invalid_metadata` with oidc-provider's description, a 409 `clients.exists`).
 */
import type { AccessChanges } from '../../accounts/access-changes.js';
import type { ClientMetadata } from 'oidc-provider';
import { isValidRoleName } from '../../accounts/roles.js';
import { AppError } from '../../errors/app-error.js';
import type { ClientInput, ClientStore, ClientSummary, GrantType } from '../../oidc/clients.js';
import type { ResourceServer } from '../../oidc/resource-servers.js';
import type { Actor, AuditRecorder } from './actor.js';
import { ADMIN_CLIENT_ID, adminResource } from './admin-client.js';
import { PRESETS } from './client-presets.js';
import { type ClientForm, parseClientForm } from './client-schema.js';
import { type Paged, paginate } from './paging.js';

export { type AuthMethod, PRESET_NAMES, PRESETS, type Preset, type PresetName } from './client-presets.js';
export type { ClientForm } from './client-schema.js';

/** What the console and the API show of a client (never its secret). */
export interface ClientView {
  clientId: string;
  name: string;
  source: 'database' | 'file';
  enabled: boolean;
  firstParty: boolean;
  /** The console's own client and file clients cannot be changed here. */
  editable: boolean;
  createdAt: Date | null;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  backchannelLogoutUri: string | null;
  grantTypes: string[];
  tokenEndpointAuthMethod: string;
  public: boolean;
  /** Where a private_key_jwt client publishes its public keys. */
  jwksUri: string | null;
  /** The OpenID scopes the client may ask for, space-separated; null: any. */
  scope: string | null;
  accessPolicy: { roles: string[]; departments: number[] };
  /** `true` (every granted claim), a list of claim names, or null (only what the app asks for). */
  idTokenClaims: true | string[] | null;
  groupsIncludeDepartments: boolean;
  allowedResources: Record<string, string[]>;
  /**
   * Roles the client's own tokens (client_credentials) carry as `roles`: a service account.
   * `admin` or `auditor` here lets the client use the admin API without a person.
   */
  serviceRoles: string[];
  /** PKCE is required at its authorization requests (always for a public client; `require_pkce: false` opts out). */
  pkceRequired: boolean;
}

export interface ClientOpsDeps {
  issuer: string;
  clientStore: ClientStore;
  /** oidc-provider's own check of client metadata (ProviderHolder.validateClient). */
  validateClient: (metadata: ClientMetadata) => Promise<void>;
  record: AuditRecorder;
  /** Revokes the grants an app's changed `access_policy` no longer admits (accounts/access-changes.ts). */
  access?: Pick<AccessChanges, 'clientChanged'>;
  /**
   * Forgets a deleted client's consents, grants and session entries (sessions.ts `forgetClient`),
   * so an app registered later under the same id does not inherit them. Without it, deleting is refused.
   */
  forgetClient?: (clientId: string) => Promise<{ consents: number; grants: number; sessions: number }>;
}

/** Client id → name, for lists that name the apps. */
export async function clientNames(store: Pick<ClientStore, 'list'>): Promise<Map<string, string>> {
  return new Map((await store.list()).map((client) => [client.clientId, client.name]));
}

const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);

export function toClientView(client: ClientSummary): ClientView {
  const m = client.metadata;
  const policy = (m.access_policy ?? {}) as { roles?: unknown; departments?: unknown };
  const claims = m.id_token_claims;
  const resources = m.allowed_resources;
  const auth = typeof m.token_endpoint_auth_method === 'string' ? m.token_endpoint_auth_method : 'client_secret_basic';
  return {
    clientId: client.clientId,
    name: client.name,
    source: client.source,
    enabled: client.enabled,
    firstParty: client.firstParty,
    editable: client.source === 'database' && client.clientId !== ADMIN_CLIENT_ID,
    createdAt: client.createdAt ?? null,
    redirectUris: strings(m.redirect_uris),
    postLogoutRedirectUris: strings(m.post_logout_redirect_uris),
    backchannelLogoutUri: typeof m.backchannel_logout_uri === 'string' ? m.backchannel_logout_uri : null,
    grantTypes: strings(m.grant_types ?? ['authorization_code', 'refresh_token']),
    tokenEndpointAuthMethod: auth,
    public: auth === 'none',
    jwksUri: typeof m.jwks_uri === 'string' ? m.jwks_uri : null,
    scope: typeof m.scope === 'string' ? m.scope : null,
    accessPolicy: {
      roles: strings(policy.roles),
      departments: Array.isArray(policy.departments) ? policy.departments.filter((d): d is number => Number.isInteger(d)) : [],
    },
    idTokenClaims: claims === true ? true : Array.isArray(claims) ? strings(claims) : null,
    groupsIncludeDepartments: m.groups_include_departments === true,
    pkceRequired: m.token_endpoint_auth_method === 'none' || m.require_pkce !== false,
    allowedResources:
      resources && typeof resources === 'object' && !Array.isArray(resources)
        ? Object.fromEntries(Object.entries(resources as Record<string, unknown>).map(([k, v]) => [k, strings(v)]))
        : {},
    serviceRoles: strings(m.service_roles),
  };
}

/**
 * Metadata keys the form owns (or the store keeps apart: the secret, first_party); every other key
 * of a client's metadata is kept as it is, and only those can be `extraMetadata`.
 */
const OWNED = new Set([
  'client_id',
  'client_secret',
  'first_party',
  'client_name',
  'grant_types',
  'response_types',
  'redirect_uris',
  'post_logout_redirect_uris',
  'token_endpoint_auth_method',
  'application_type',
  'backchannel_logout_uri',
  'backchannel_logout_session_required',
  'jwks_uri',
  'scope',
  'allowed_resources',
  'access_policy',
  'id_token_claims',
  'groups_include_departments',
  'require_pkce',
  'service_roles',
]);

function invalid(message: string): AppError {
  return new AppError('clients.invalid_metadata', message, { status: 400 });
}

function notFound(clientId: string): AppError {
  return new AppError('clients.not_found', `no client ${clientId}`, { status: 404 });
}

/** Applies a preset to the base URL: redirect and logout URIs, grant types, auth method, claims. */
export function applyPreset(form: ClientForm): ClientForm {
  if (!form.preset) return form;
  const preset = PRESETS[form.preset];
  if (!preset) throw invalid(`unknown preset ${String(form.preset)}`);
  const base = (form.baseUrl ?? '').trim().replace(/\/+$/, '');
  if (!URL.canParse(base) || !/^https?:$/.test(new URL(base).protocol)) {
    throw invalid('the preset needs the application’s base URL (https://…)');
  }
  return {
    name: preset.label,
    grantTypes: preset.grantTypes,
    tokenEndpointAuthMethod: preset.tokenEndpointAuthMethod,
    idTokenClaims: preset.idTokenClaims,
    groupsIncludeDepartments: preset.groupsIncludeDepartments,
    pkceRequired: preset.pkceRequired,
    firstParty: true,
    ...Object.fromEntries(Object.entries(form).filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0) && v !== '')),
    redirectUris: form.redirectUris?.length ? form.redirectUris : preset.redirectPaths.map((p) => base + p),
    postLogoutRedirectUris: form.postLogoutRedirectUris?.length ? form.postLogoutRedirectUris : preset.postLogoutPaths.map((p) => base + p),
  };
}

/** The store's input for a client: `current` (when editing) overlaid with the form. */
function inputOf(form: ClientForm, current?: ClientSummary): Omit<ClientInput, 'clientId'> {
  const now = current ? toClientView(current) : undefined;
  const extra = current ? Object.fromEntries(Object.entries(current.metadata).filter(([key]) => !OWNED.has(key))) : {};
  const name = (form.name ?? now?.name ?? '').trim();
  if (!name || name.length > 100) throw invalid('name is required (at most 100 characters)');
  const pick = <T>(value: T | undefined, fallback: T): T => (value === undefined ? fallback : value);
  const policy = pick(form.accessPolicy, now?.accessPolicy ?? {});
  const roles = policy.roles ?? [];
  const departments = policy.departments ?? [];
  const claims = pick(form.idTokenClaims, now?.idTokenClaims ?? null);
  const isPublic = form.public ?? now?.public ?? false;
  const auth =
    form.tokenEndpointAuthMethod ??
    (now && !now.public ? (now.tokenEndpointAuthMethod as ClientInput['tokenEndpointAuthMethod']) : undefined);
  const backchannel = pick(form.backchannelLogoutUri, now?.backchannelLogoutUri ?? null);
  const metadata: Record<string, unknown> = { ...extra };
  if (form.extraMetadata !== undefined) {
    if (!form.extraMetadata || typeof form.extraMetadata !== 'object' || Array.isArray(form.extraMetadata))
      throw invalid('further metadata is an object');
    for (const [key, value] of Object.entries(form.extraMetadata)) {
      if (OWNED.has(key)) throw invalid(`${key} is a setting of its own, not further metadata`);
      if (value === null) delete metadata[key];
      else metadata[key] = value;
    }
  }
  if (roles.length + departments.length > 0) metadata.access_policy = { roles, departments };
  if (claims !== null && !(Array.isArray(claims) && claims.length === 0)) metadata.id_token_claims = claims;
  if (pick(form.groupsIncludeDepartments, now?.groupsIncludeDepartments ?? false)) metadata.groups_include_departments = true;
  if (!pick(form.pkceRequired, now?.pkceRequired ?? true)) metadata.require_pkce = false;
  const serviceRoles = [
    ...new Set(
      pick(form.serviceRoles, now?.serviceRoles ?? [])
        .map((role) => role.trim())
        .filter(Boolean),
    ),
  ];
  const badRole = serviceRoles.find((role) => !isValidRoleName(role));
  if (badRole !== undefined) throw invalid(`service role ${badRole}: lower-case letters, digits, . _ : - (at most 64)`);
  const grantTypes: GrantType[] = pick(
    form.grantTypes,
    (now?.grantTypes as GrantType[] | undefined) ?? ['authorization_code', 'refresh_token'],
  );
  if (isPublic && grantTypes.includes('client_credentials'))
    throw invalid('a public client has no secret and cannot use client_credentials');
  if (serviceRoles.length > 0 && !grantTypes.includes('client_credentials'))
    throw invalid('service roles need the client_credentials grant');
  if (serviceRoles.length > 0) metadata.service_roles = serviceRoles;
  const jwksUri = pick(form.jwksUri, now?.jwksUri ?? null)?.trim();
  const scope = pick(form.scope, now?.scope ?? null)
    ?.split(/\s+/)
    .filter(Boolean)
    .join(' ');
  const resources = pick(form.allowedResources, now?.allowedResources ?? {});
  return {
    name,
    redirectUris: pick(form.redirectUris, now?.redirectUris ?? []),
    postLogoutRedirectUris: pick(form.postLogoutRedirectUris, now?.postLogoutRedirectUris ?? []),
    grantTypes,
    public: isPublic,
    firstParty: pick(form.firstParty, now?.firstParty ?? false),
    ...(backchannel ? { backchannelLogoutUri: backchannel } : {}),
    ...(auth && !isPublic ? { tokenEndpointAuthMethod: auth } : {}),
    ...(jwksUri ? { jwksUri } : {}),
    ...(scope ? { scope } : {}),
    ...(Object.keys(resources).length > 0 ? { allowedResources: resources } : {}),
    metadata,
  };
}

export function createClientOps(deps: ClientOpsDeps) {
  const { clientStore: store, record } = deps;
  const protectedResource = adminResource(deps.issuer);

  async function find(clientId: string): Promise<ClientSummary> {
    const client = await store.get(clientId);
    if (!client) throw notFound(clientId);
    return client;
  }
  function editable(client: ClientSummary): void {
    if (client.source === 'file')
      throw new AppError('clients.read_only', `${client.clientId} comes from CLIENTS_FILE: change it there`, { status: 409 });
    if (client.clientId === ADMIN_CLIENT_ID)
      throw new AppError('clients.protected', 'the admin console’s own client is managed by the server', { status: 409 });
  }

  return {
    presets: PRESETS,

    async listClients(query: { q?: string; page: number; pageSize: number }): Promise<Paged<ClientView>> {
      const q = query.q?.trim().toLowerCase();
      const all = (await store.list())
        .map(toClientView)
        .filter((c) => !q || c.clientId.toLowerCase().includes(q) || c.name.toLowerCase().includes(q));
      return paginate(all, query.page, query.pageSize);
    },

    async getClient(clientId: string): Promise<ClientView> {
      return toClientView(await find(clientId));
    },

    /** The secret is in the answer, once (undefined for public and private_key_jwt clients). */
    async createClient(settings: ClientForm, actor: Actor): Promise<{ client: ClientView; clientSecret?: string }> {
      const form = parseClientForm(settings, 'clients.invalid_metadata');
      const filled = applyPreset(form);
      const clientId = filled.clientId?.trim();
      if (clientId !== undefined && clientId !== '' && !/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/.test(clientId)) {
        throw invalid('client_id: letters, digits, . _ : - (at most 100)');
      }
      const input = inputOf(filled);
      const { clientId: id, clientSecret } = await store.add({ ...input, ...(clientId ? { clientId } : {}) }, (metadata) =>
        deps.validateClient(metadata),
      );
      const client = toClientView(await find(id));
      await record(actor, {
        type: 'client.created',
        details: { client: id, name: client.name, preset: form.preset ?? null, redirectUris: client.redirectUris },
      });
      return { client, ...(clientSecret ? { clientSecret } : {}) };
    },

    async updateClient(clientId: string, settings: ClientForm, actor: Actor): Promise<ClientView> {
      const form = parseClientForm(settings, 'clients.invalid_metadata');
      const current = await find(clientId);
      editable(current);
      const before = toClientView(current);
      const input = inputOf(form, current);
      const updated = await store.update(clientId, input, (metadata) => deps.validateClient(metadata));
      if (!updated) throw notFound(clientId);
      const after = toClientView(updated);
      const changed = (Object.keys(after) as (keyof ClientView)[]).filter(
        (key) => JSON.stringify(after[key]) !== JSON.stringify(before[key]),
      );
      await record(actor, {
        type: 'client.updated',
        details: { client: clientId, changed, ...Object.fromEntries(changed.map((key) => [key, after[key]])) },
      });
      if (changed.includes('accessPolicy')) await deps.access?.clientChanged(clientId, { actor: actor.accountId });
      return after;
    },

    /** Deletes a client, then everything people had with it: consents, grants (and their tokens), session entries. */
    async deleteClient(
      clientId: string,
      actor: Actor,
    ): Promise<{ clientId: string; removed: boolean; consents: number; grants: number; sessions: number }> {
      editable(await find(clientId));
      if (!deps.forgetClient) throw new Error('deleteClient needs forgetClient (createAdminOps provides it)');
      const removed = await store.remove(clientId);
      const forgotten = await deps.forgetClient(clientId);
      await record(actor, { type: 'client.removed', details: { client: clientId, ...forgotten } });
      return { clientId, removed, ...forgotten };
    },

    async rotateClientSecret(clientId: string, actor: Actor): Promise<{ clientId: string; clientSecret: string }> {
      editable(await find(clientId));
      const clientSecret = await store.rotateSecret(clientId);
      if (!clientSecret) throw new AppError('clients.no_secret', `${clientId} has no secret (public or private_key_jwt)`, { status: 409 });
      await record(actor, { type: 'client.secret_rotated', details: { client: clientId } });
      return { clientId, clientSecret };
    },

    async listResourceServers(page: number, pageSize: number): Promise<Paged<ResourceServer & { protected: boolean }>> {
      const all = (await store.listResourceServers()).map((rs) => ({ ...rs, protected: rs.identifier === protectedResource }));
      return paginate(all, page, pageSize);
    },

    async createResourceServer(
      input: { identifier: string; name?: string; scopes?: string[]; tokenFormat?: 'jwt' | 'opaque'; accessTokenTtl?: number },
      actor: Actor,
    ): Promise<ResourceServer> {
      if (await store.findResourceServer(input.identifier))
        throw new AppError('resource_servers.exists', `${input.identifier} exists already`, { status: 409 });
      if (input.scopes?.some((scope) => !/^[\x21\x23-\x5B\x5D-\x7E]{1,100}$/.test(scope)))
        throw invalid('scopes are words without spaces or quotes');
      if (
        input.accessTokenTtl !== undefined &&
        (!Number.isInteger(input.accessTokenTtl) || input.accessTokenTtl < 60 || input.accessTokenTtl > 86_400)
      ) {
        throw invalid('accessTokenTtl is a number of seconds between 60 and 86400');
      }
      const server = await store.addResourceServer(input);
      await record(actor, {
        type: 'resource_server.created',
        details: { resource: server.identifier, scopes: server.scopes, tokenFormat: server.tokenFormat },
      });
      return server;
    },

    async deleteResourceServer(identifier: string, actor: Actor): Promise<{ identifier: string }> {
      if (identifier === protectedResource)
        throw new AppError('resource_servers.protected', 'the admin API’s resource server is managed by the server', { status: 409 });
      if (!(await store.removeResourceServer(identifier)))
        throw new AppError('resource_servers.not_found', `no resource server ${identifier}`, { status: 404 });
      await record(actor, { type: 'resource_server.removed', details: { resource: identifier } });
      return { identifier };
    },
  };
}
