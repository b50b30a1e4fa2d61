/**
 * oidc-provider configuration, built from our Config and a few dependencies, with no I/O of its
 * own. Every feature, TTL and policy is set here explicitly (oidc-provider prints a notice for any
 * default left in place); each override names the section of oidc-provider's docs/README behind it.
 * What flows through: clients from Postgres (adapter `Client`), everything else from Redis or
 * memory (`adapter`), accounts from Postgres (`findAccount`), keys from Postgres (`jwks`).
 */
import type { JWK } from 'jose';
import {
  type Adapter,
  type ClientMetadata,
  type Configuration,
  errors,
  type FindAccount,
  interactionPolicy,
  type KoaContextWithOIDC,
} from 'oidc-provider';
import { isAccessPolicy } from '../accounts/access.js';
import type { Config } from '../config/schema.js';
import { SCOPE_CLAIMS } from './claims.js';
import { createOutboundFetch } from './outbound.js';
import type { ResourceServer } from './resource-servers.js';
import { unavailableAware, withUnavailableErrors } from './unavailable.js';

export interface ProviderDeps {
  /** Adapter constructor for every model but `Client`. */
  adapterFor: (model: string) => Adapter;
  /** The read-only, cached `Client` adapter. */
  clientAdapter: Adapter;
  findAccount: FindAccount;
  jwks: JWK[];
  staticClients: ClientMetadata[];
  findResourceServer: (identifier: string) => Promise<ResourceServer | undefined>;
  renderError: NonNullable<Configuration['renderError']>;
  /** Session grant, remembered consent, or first-party auto-grant (grants.ts). */
  loadExistingGrant?: Configuration['loadExistingGrant'];
  /** Whether an account may use a client (its `access_policy`); absent: everyone may. */
  mayUse?: (accountId: string, client: unknown) => Promise<boolean>;
  /** Whether an account is active (introspection answers `active: false` for others). */
  isActiveAccount?: (accountId: string) => Promise<boolean>;
  /** The account's role names, for access tokens issued to resource servers. */
  rolesOf?: (accountId: string) => Promise<string[]>;
  logoutSource: NonNullable<NonNullable<Configuration['features']>['rpInitiatedLogout']>['logoutSource'];
  postLogoutSuccessSource: NonNullable<NonNullable<Configuration['features']>['rpInitiatedLogout']>['postLogoutSuccessSource'];
}

export function buildConfiguration(config: Config, deps: ProviderDeps): Configuration {
  const ttl = config.oidc.ttl;
  const https = new URL(config.issuer).protocol === 'https:';

  return {
    adapter: class {
      constructor(model: string) {
        // oidc-provider instantiates one adapter per model name.
        // Storage outages become 503 temporarily_unavailable instead of server_error.
        return withUnavailableErrors(model === 'Client' ? deps.clientAdapter : deps.adapterFor(model));
      }
    } as unknown as Configuration['adapter'],
    clients: deps.staticClients,
    findAccount: unavailableAware(deps.findAccount) as FindAccount,
    jwks: { keys: deps.jwks },

    // Claims and scopes (DESIGN.md contract). Unknown scopes are not errors: oidc-provider keeps
    // only the scopes it knows when it grants, so `user:email` (Grafana) is simply not granted.
    claims: Object.fromEntries(Object.entries(SCOPE_CLAIMS).map(([scope, claims]) => [scope, [...claims]])),
    scopes: ['openid', 'offline_access', ...Object.keys(SCOPE_CLAIMS).filter((s) => s !== 'openid')],
    // ID token claims: oidc-provider may put every granted scope's claims there (non-conform mode);
    // findAccount (claims.ts) then keeps only `sub`, the claims asked for with the claims
    // parameter, and those a client is configured for (`id_token_claims`), so each client gets
    // exactly what it needs (Grafana and Argo CD read roles from the ID token).
    conformIdTokenClaims: false,

    responseTypes: ['code'],
    // RFC 9700 §2.1.1 / OIDC Core 3.1.2.1: redirect_uri always present and matched exactly.
    allowOmittingSingleRegisteredRedirectUri: false,
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: config.oidc.signingAlg,
    },
    extraClientMetadata: {
      // Our own metadata: `first_party` apps skip consent; `allowed_resources` lists the resource
      // servers a client may get tokens for, each with the scopes it may have (empty: all).
      // `access_policy` limits who may sign in to it; `id_token_claims` (true or claim names) puts
      // claims into its ID token; `introspect_resources` lists resource servers whose tokens it may
      // introspect ('*': all); `service_roles` are the roles its own client_credentials tokens carry.
      properties: [
        'first_party',
        'allowed_resources',
        'access_policy',
        'id_token_claims',
        'introspect_resources',
        'groups_include_departments',
        'service_roles',
        'require_pkce',
      ],
      validator(_ctx, key, value) {
        if (value === undefined) return;
        if (key === 'access_policy' && !isAccessPolicy(value)) {
          throw new errors.InvalidClientMetadata('access_policy must be { roles?: string[], departments?: number[] }');
        }
        if (key === 'id_token_claims' && value !== true && !isStringList(value)) {
          throw new errors.InvalidClientMetadata('id_token_claims must be true or an array of claim names');
        }
        if (key === 'groups_include_departments' && typeof value !== 'boolean') {
          throw new errors.InvalidClientMetadata('groups_include_departments must be a boolean');
        }
        if (key === 'service_roles' && !isStringList(value)) {
          throw new errors.InvalidClientMetadata('service_roles must be an array of role names');
        }
        if (key === 'introspect_resources' && !isStringList(value)) {
          throw new errors.InvalidClientMetadata('introspect_resources must be an array of resource URIs or "*"');
        }
        if (key === 'require_pkce' && typeof value !== 'boolean') {
          throw new errors.InvalidClientMetadata('require_pkce must be a boolean');
        }
        if (key === 'first_party' && value !== undefined && typeof value !== 'boolean') {
          throw new errors.InvalidClientMetadata('first_party must be a boolean');
        }
        if (key === 'allowed_resources' && value !== undefined && !isAllowedResources(value)) {
          throw new errors.InvalidClientMetadata('allowed_resources must map absolute resource URIs to arrays of scope strings');
        }
      },
    },
    // PKCE: S256 only (oidc-provider 9 accepts nothing else), required for every client (RFC 9700
    // §2.1.1). A confidential client whose software cannot send it (the Argo CD preset) opts out
    // with `require_pkce: false`; a public client never can.
    pkce: {
      required: (_ctx, client) =>
        client.clientAuthMethod === 'none' || (client as unknown as { require_pkce?: unknown }).require_pkce !== false,
    },
    // POST to the authorization endpoint (OIDC Core 3.1.2.1) needs SameSite=None cookies, which
    // browsers accept only with Secure, so it is on when the issuer is https.
    enableHttpPostMethods: https,
    cookies: {
      keys: [...config.secrets.cookieKeys],
      long: { httpOnly: true, sameSite: https ? 'none' : 'lax', signed: true },
      short: { httpOnly: true, sameSite: https ? 'none' : 'lax', signed: true },
    },
    routes: {
      authorization: '/auth',
      token: '/token',
      userinfo: '/me',
      introspection: '/token/introspection',
      revocation: '/token/revocation',
      end_session: '/session/end',
      jwks: '/jwks',
      pushed_authorization_request: '/request',
    },
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
      policy: interactionPolicyWith(deps.mayUse),
    },
    renderError: deps.renderError,
    ...(deps.loadExistingGrant ? { loadExistingGrant: unavailableAware(deps.loadExistingGrant) } : {}),

    features: {
      devInteractions: { enabled: false },
      claimsParameter: { enabled: true },
      clientCredentials: { enabled: true },
      userinfo: { enabled: true },
      introspection: {
        enabled: true,
        // RFC 7662 §2.1/§4: a client may introspect its own tokens, and a resource server the tokens
        // issued for it (`introspect_resources`); anything else answers `active: false`. A token of
        // a disabled account is inactive at once, and so is one whose app's `access_policy` no
        // longer admits its person (a role taken away, a tightened policy, a department move).
        allowedPolicy: async (ctx, client, token) => {
          const own = token.clientId === client.clientId;
          if (!own) {
            if (client.clientAuthMethod === 'none') return false;
            const allowed = (client as unknown as { introspect_resources?: string[] }).introspect_resources ?? [];
            const audience = (token as unknown as { aud?: string }).aud;
            if (!allowed.includes('*') && !(audience && allowed.includes(audience))) return false;
          }
          const accountId = 'accountId' in token ? token.accountId : undefined;
          if (accountId && deps.isActiveAccount && !(await deps.isActiveAccount(accountId))) return false;
          if (accountId && deps.mayUse) {
            const tokenClient = own ? client : await ctx.oidc.provider.Client.find(token.clientId!);
            if (!tokenClient || !(await deps.mayUse(accountId, tokenClient))) return false;
          }
          return true;
        },
      },
      revocation: {
        enabled: true,
        // RFC 7009 §2.1: a client may revoke only tokens issued to it. Another client's token is left
        // alone and answered 200 like an unknown one (§2.2), so the answer tells nobody whether
        // someone else's token is valid.
        allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId,
      },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: deps.logoutSource,
        postLogoutSuccessSource: deps.postLogoutSuccessSource,
      },
      backchannelLogout: { enabled: true },
      // RFC 9126: on and advertised; not required, because Grafana, GitLab and Argo CD don't use it.
      pushedAuthorizationRequests: {
        enabled: true,
        requirePushedAuthorizationRequests: false,
        allowUnregisteredRedirectUris: false,
      },
      // RFC 9449: on and advertised for clients that sender-constrain their tokens.
      dPoP: { enabled: true, allowReplay: false },
      resourceIndicators: {
        enabled: true,
        // No resource requested → an opaque token for userinfo, as before resource indicators.
        defaultResource: async (_ctx, _client, oneOf) => oneOf,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, indicator, client) => {
          const server = await deps.findResourceServer(indicator);
          const allowed = allowedResourcesOf(client)[indicator];
          // RFC 8707 §2: a resource the client may not use is an invalid_target, like an unknown one.
          if (!server || !allowed) throw new errors.InvalidTarget();
          const scopes = allowed.length === 0 ? server.scopes : server.scopes.filter((s) => allowed.includes(s));
          return {
            scope: scopes.join(' '),
            audience: server.identifier,
            accessTokenTTL: server.accessTokenTtl ?? ttl.accessToken,
            accessTokenFormat: server.tokenFormat,
            ...(server.tokenFormat === 'jwt' ? { jwt: { sign: { alg: (server.signingAlg ?? config.oidc.signingAlg) as 'RS256' } } } : {}),
          };
        },
      },
      registration: { enabled: false },
      deviceFlow: { enabled: false },
      ciba: { enabled: false },
      encryption: { enabled: false },
      jwtIntrospection: { enabled: false },
      jwtUserinfo: { enabled: false },
      requestObjects: { enabled: false },
      richAuthorizationRequests: { enabled: false },
    },

    // Refresh tokens: rotated on every
    // use for public clients (RFC 9700 §4.14.2), and for confidential ones once 70% of their life
    // has passed, until the chain is as old as a grant may be (then it just expires).
    // Access tokens for a resource server carry the person's roles (JWT `roles` claim, and in
    // introspection answers), so an API can authorise without calling us (RFC 9068 §2.2.3.1).
    // A client's own tokens (client_credentials: no person) carry its `service_roles`.
    extraTokenClaims: async (ctx, token) => {
      if (!token.resourceServer) return undefined;
      const accountId = 'accountId' in token ? token.accountId : undefined;
      if (accountId) return deps.rolesOf ? { roles: await deps.rolesOf(accountId) } : undefined;
      const serviceRoles = (ctx.oidc.client as unknown as { service_roles?: unknown } | undefined)?.service_roles;
      return token.kind === 'ClientCredentials' && isStringList(serviceRoles) && serviceRoles.length > 0
        ? { roles: serviceRoles }
        : undefined;
    },
    // A client allowed the refresh_token grant always gets one: with offline_access (asked with
    // prompt=consent, OIDC Core 11) it outlives the session; without, it dies with the session
    // (expiresWithSession), which is what apps like Grafana's use_refresh_token need.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    expiresWithSession: async (_ctx, code) => !code.scopes.has('offline_access'),
    rotateRefreshToken: (ctx) => {
      const { RefreshToken: refreshToken, Client: client } = ctx.oidc.entities;
      if (!refreshToken || !client) return false;
      if (client.clientAuthMethod === 'none') return true;
      if (refreshToken.totalLifetime() >= ttl.grant) return false;
      return refreshToken.ttlPercentagePassed() >= 70;
    },

    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? ttl.accessToken,
      AuthorizationCode: ttl.authorizationCode,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? ttl.clientCredentials,
      IdToken: ttl.idToken,
      RefreshToken: (ctx, _token, client) => {
        // A public client's refresh token lives as long as the session it came from at most.
        if (client.clientAuthMethod === 'none' && ctx?.oidc.entities.RotatedRefreshToken) {
          return Math.min(ttl.refreshToken, ctx.oidc.entities.RotatedRefreshToken.remainingTTL);
        }
        return ttl.refreshToken;
      },
      Interaction: ttl.interaction,
      Session: ttl.session,
      Grant: ttl.grant,
      PushedAuthorizationRequest: ttl.pushedAuthorizationRequest,
      BackchannelAuthenticationRequest: 600,
      DeviceCode: 600,
      PreAuthorizedCode: 600,
    },
    clockTolerance: 15,
    // Outgoing requests (back-channel logout tokens, client jwks_uri), docs: "fetch": a 2.5 s deadline
    // per attempt (oidc-provider's own), retried twice on network errors and 5xx, and in production
    // never to loopback, private, link-local or metadata addresses, checked after DNS resolution and on
    // every redirect, except the internal apps of OUTBOUND_ALLOWED_HOSTS (outbound.ts).
    fetch: createOutboundFetch({ blockPrivate: config.outbound.blockPrivate, allowed: config.outbound.allowedHosts }),
    // CORS (token, userinfo, … from browsers): only from the origins of a client's own redirect
    // URIs, so a single-page app can call us and nobody else's page can.
    clientBasedCORS: (_ctx, origin, client) =>
      (client.redirectUris ?? []).some((uri) => URL.canParse(uri) && new URL(uri).origin === origin),
    // Error bodies never carry stacks; oidc-provider only shows `error_description` it made itself.
    discovery: {
      service_documentation: `${config.issuer}/`,
      ui_locales_supported: ['zh-CN', 'en'],
      claims_locales_supported: ['zh-CN', 'en'],
    },
  } satisfies Configuration;
}

export type { KoaContextWithOIDC };

export type AllowedResources = Record<string, string[]>;

function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string' && item.length > 0);
}

/**
 * oidc-provider's default prompts, plus a login check (docs: "interactions.policy"): a signed-in
 * person whom the client's access policy does not admit is sent to the interaction, where our
 * page says so; with prompt=none the application gets `access_denied`.
 */
function interactionPolicyWith(mayUse: ProviderDeps['mayUse']) {
  const policy = interactionPolicy.base();
  if (!mayUse) return policy;
  const { Check } = interactionPolicy;
  policy.get('login')!.checks.push(
    new Check('access_policy', 'the End-User may not use this client', 'access_denied', async (ctx) => {
      const accountId = ctx.oidc.session?.accountId;
      if (!accountId || !ctx.oidc.client) return Check.NO_NEED_TO_PROMPT;
      return (await mayUse(accountId, ctx.oidc.client)) ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
    }),
  );
  return policy;
}

function isAllowedResources(value: unknown): value is AllowedResources {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.entries(value).every(
      ([uri, scopes]) =>
        URL.canParse(uri) && Array.isArray(scopes) && scopes.every((scope) => typeof scope === 'string' && /^\S+$/.test(scope)),
    )
  );
}

function allowedResourcesOf(client: unknown): AllowedResources {
  const value = (client as { allowed_resources?: unknown }).allowed_resources;
  return isAllowedResources(value) ? value : {};
}
