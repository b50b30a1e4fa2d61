/**
 * Clients and resource servers: registered in Postgres (by the admin console, the admin API and the
 * CLI, through the admin operations) or listed in CLIENTS_FILE. oidc-provider reads clients through
 * `createClientAdapter`, read-only, which keeps each answer (found or not) for `clientCacheMs`, so
 * the token and introspection hot paths do not touch Postgres on every request; every change is
 * announced through `onChange` so that each replica drops its copy at once, and the cache time
 * only bounds a lost announcement. While Postgres is down, a cached client is served as last read.
 * The secret is stored encrypted (SecretBox) and shown only once.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { LRUCache } from 'lru-cache';
import type { Adapter, AdapterPayload, ClientMetadata } from 'oidc-provider';
import type { Models } from '../db/models/index.js';
import { Op, UniqueConstraintError } from 'sequelize';
import { AppError } from '../errors/app-error.js';
import type { SecretBox } from './secret-box.js';

export type GrantType = 'authorization_code' | 'refresh_token' | 'client_credentials';
export const GRANT_TYPES: readonly GrantType[] = ['authorization_code', 'refresh_token', 'client_credentials'];

export interface ClientInput {
  name: string;
  /** Chosen id; default: a slug of the name plus random characters. */
  clientId?: string;
  redirectUris?: string[];
  postLogoutRedirectUris?: string[];
  grantTypes?: GrantType[];
  /** A public client (SPA, native app, CLI): no secret, PKCE required. */
  public?: boolean;
  /** Our own or a trusted app: consent is not asked. */
  firstParty?: boolean;
  backchannelLogoutUri?: string;
  /** `client_secret_basic` (default), `client_secret_post` or `private_key_jwt` (needs jwksUri). */
  tokenEndpointAuthMethod?: 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';
  jwksUri?: string;
  /** Space-separated OpenID scopes the client may ask for (default: any). */
  scope?: string;
  /** Resource servers the client may get access tokens for, each with its allowed scopes ([] = all). */
  allowedResources?: Record<string, string[]>;
  /** Any further oidc-provider client metadata, applied last. */
  metadata?: Record<string, unknown>;
}

export interface ClientSummary {
  clientId: string;
  name: string;
  firstParty: boolean;
  enabled: boolean;
  source: 'database' | 'file';
  metadata: Record<string, unknown>;
  createdAt?: Date;
}

export interface ResourceServerInput {
  identifier: string;
  name?: string;
  scopes?: string[];
  tokenFormat?: 'jwt' | 'opaque';
  accessTokenTtl?: number;
  signingAlg?: 'RS256' | 'ES256';
}

export interface ResourceServer {
  identifier: string;
  name: string;
  scopes: string[];
  tokenFormat: 'jwt' | 'opaque';
  accessTokenTtl: number | null;
  signingAlg: string | null;
}

/** Validates metadata the way oidc-provider will (provider.Client.validate). */
export type MetadataValidator = (metadata: ClientMetadata) => Promise<void>;

export function createClientStore(
  models: Models,
  box: SecretBox,
  fileClients: readonly ClientMetadata[] = [],
  /** Told after every change (a client id or a resource identifier), to drop caches everywhere. */
  onChange: (id: string) => Promise<void> = async () => undefined,
) {
  const { ClientRecord, ResourceServerRecord } = models;

  function buildMetadata(input: ClientInput, clientId: string): Record<string, unknown> {
    const grantTypes = input.grantTypes ?? ['authorization_code', 'refresh_token'];
    const interactive = grantTypes.includes('authorization_code');
    const metadata: Record<string, unknown> = {
      client_id: clientId,
      client_name: input.name,
      grant_types: grantTypes,
      response_types: interactive ? ['code'] : [],
      redirect_uris: input.redirectUris ?? [],
      post_logout_redirect_uris: input.postLogoutRedirectUris ?? [],
      token_endpoint_auth_method: input.public ? 'none' : (input.tokenEndpointAuthMethod ?? 'client_secret_basic'),
    };
    if (input.public) metadata.application_type = isNativeRedirects(input.redirectUris) ? 'native' : 'web';
    if (input.backchannelLogoutUri) {
      metadata.backchannel_logout_uri = input.backchannelLogoutUri;
      metadata.backchannel_logout_session_required = true;
    }
    if (input.jwksUri) metadata.jwks_uri = input.jwksUri;
    if (input.scope) metadata.scope = input.scope;
    if (input.allowedResources) metadata.allowed_resources = input.allowedResources;
    return { ...metadata, ...input.metadata };
  }

  return {
    /** Register a client; returns the secret once (undefined for public clients). */
    async add(input: ClientInput, validate?: MetadataValidator): Promise<{ clientId: string; clientSecret?: string }> {
      const clientId = input.clientId ?? `${slug(input.name)}-${randomBytes(4).toString('hex')}`;
      const metadata = buildMetadata(input, clientId);
      const needsSecret = metadata.token_endpoint_auth_method !== 'none' && metadata.token_endpoint_auth_method !== 'private_key_jwt';
      const clientSecret = needsSecret ? newSecret() : undefined;
      await validate?.({ ...metadata, client_secret: clientSecret } as ClientMetadata);
      await ClientRecord.create({
        clientId,
        name: input.name,
        metadata,
        secretEncrypted: clientSecret ? box.seal(clientSecret, clientId) : null,
        firstParty: input.firstParty ?? false,
      }).catch((error: unknown) => {
        if (error instanceof UniqueConstraintError) throw clientExists(clientId, error);
        throw error;
      });
      await onChange(clientId);
      return { clientId, clientSecret };
    },

    async list(): Promise<ClientSummary[]> {
      const rows = await ClientRecord.findAll({ order: [['createdAt', 'ASC']] });
      return [
        ...fileClients.map((m) => ({
          clientId: String(m.client_id),
          name: String(m.client_name ?? m.client_id),
          firstParty: Boolean(m.first_party),
          enabled: true,
          source: 'file' as const,
          metadata: withoutSecret(m as Record<string, unknown>),
        })),
        ...rows.map((row) => ({
          clientId: row.clientId,
          name: row.name,
          firstParty: row.firstParty,
          enabled: row.enabled,
          source: 'database' as const,
          metadata: row.metadata,
          createdAt: row.createdAt,
        })),
      ];
    },

    async get(clientId: string): Promise<ClientSummary | undefined> {
      return (await this.list()).find((client) => client.clientId === clientId);
    },

    /** A client's metadata as stored now (CLIENTS_FILE or database, no secret); undefined when gone or disabled. */
    async metadataOf(clientId: string): Promise<Record<string, unknown> | undefined> {
      const file = fileClients.find((client) => client.client_id === clientId);
      if (file) return withoutSecret(file);
      const row = await ClientRecord.findByPk(clientId);
      return row && row.enabled ? { ...row.metadata, client_id: row.clientId } : undefined;
    },

    /** Full oidc-provider metadata with the decrypted secret, for the provider only. */
    async providerMetadata(clientId: string): Promise<AdapterPayload | undefined> {
      const row = await ClientRecord.findByPk(clientId);
      if (!row || !row.enabled) return undefined;
      return {
        ...row.metadata,
        client_id: row.clientId,
        ...(row.secretEncrypted ? { client_secret: box.open(row.secretEncrypted, row.clientId) } : {}),
        first_party: row.firstParty,
      };
    },

    /**
     * Replace a database client's settings: the metadata is rebuilt from `input` as `add` builds it
     * (so pass every setting to keep, not only the changed ones); the id and the secret stay.
     * Undefined when there is no such client in the database (file clients cannot be edited). A
     * change between a secret-based and a secretless authentication method is refused: register a
     * new client instead.
     */
    async update(clientId: string, input: Omit<ClientInput, 'clientId'>, validate?: MetadataValidator): Promise<ClientSummary | undefined> {
      const row = await ClientRecord.findByPk(clientId);
      if (!row) return undefined;
      const metadata = buildMetadata(input, clientId);
      const needsSecret = metadata.token_endpoint_auth_method !== 'none' && metadata.token_endpoint_auth_method !== 'private_key_jwt';
      if (needsSecret !== Boolean(row.secretEncrypted)) {
        throw new AppError(
          'clients.invalid_metadata',
          needsSecret
            ? `client ${clientId} has no secret: it cannot switch to ${String(metadata.token_endpoint_auth_method)}`
            : `client ${clientId} authenticates with a secret: it cannot switch to ${String(metadata.token_endpoint_auth_method)}`,
          { status: 400 },
        );
      }
      await validate?.({
        ...metadata,
        ...(row.secretEncrypted ? { client_secret: box.open(row.secretEncrypted, row.clientId) } : {}),
      } as ClientMetadata);
      await row.update({ name: input.name, metadata, firstParty: input.firstParty ?? false });
      await onChange(clientId);
      return {
        clientId: row.clientId,
        name: row.name,
        firstParty: row.firstParty,
        enabled: row.enabled,
        source: 'database',
        metadata: row.metadata,
        createdAt: row.createdAt,
      };
    },

    async remove(clientId: string): Promise<boolean> {
      const removed = (await ClientRecord.destroy({ where: { clientId } })) > 0;
      if (removed) await onChange(clientId);
      return removed;
    },

    /** Re-seals client secrets stored before they were bound to their row (v1 → v2); returns how many. */
    async resealLegacy(): Promise<number> {
      let count = 0;
      for (const row of await ClientRecord.findAll({ where: { secretEncrypted: { [Op.startsWith]: 'v1.' } } })) {
        const legacy = row.secretEncrypted!;
        // Only if the row still holds what was read: a secret rotated meanwhile is never put back.
        const [updated] = await ClientRecord.update(
          { secretEncrypted: box.seal(box.open(legacy, row.clientId), row.clientId) },
          { where: { clientId: row.clientId, secretEncrypted: legacy } },
        );
        count += updated;
      }
      return count;
    },

    /** A new secret replaces the old one at once; returns it once. */
    async rotateSecret(clientId: string): Promise<string | undefined> {
      const row = await ClientRecord.findByPk(clientId);
      if (!row || !row.secretEncrypted) return undefined;
      const clientSecret = newSecret();
      await row.update({ secretEncrypted: box.seal(clientSecret, clientId) });
      await onChange(clientId);
      return clientSecret;
    },

    /** The demo client of development mode: created once, its secret readable for printing. */
    async ensureDemo(issuer: string): Promise<{ clientId: string; clientSecret: string }> {
      const clientId = 'demo';
      let row = await ClientRecord.findByPk(clientId);
      if (!row) {
        // Several workers may start at once: whoever loses the race reads the winner's row.
        await this.add({
          clientId,
          name: 'Demo application',
          grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
          redirectUris: [`${issuer}/demo/callback`],
          postLogoutRedirectUris: [`${issuer}/demo`],
          firstParty: true,
        }).catch((error: unknown) => {
          if (!(error instanceof AppError && error.code === 'clients.exists')) throw error;
        });
        row = await ClientRecord.findByPk(clientId);
      }
      return { clientId, clientSecret: box.open(row!.secretEncrypted!, clientId) };
    },

    async addResourceServer(input: ResourceServerInput): Promise<ResourceServer> {
      const url = URL.canParse(input.identifier) ? new URL(input.identifier) : undefined;
      if (!url || url.hash) {
        throw new AppError('clients.invalid_metadata', 'resource server identifier must be an absolute URI without a fragment (RFC 8707)', {
          status: 400,
        });
      }
      const row = await ResourceServerRecord.create({
        identifier: input.identifier,
        name: input.name ?? input.identifier,
        scopes: input.scopes ?? [],
        tokenFormat: input.tokenFormat ?? 'jwt',
        accessTokenTtl: input.accessTokenTtl ?? null,
        signingAlg: input.signingAlg ?? null,
      }).catch((error: unknown) => {
        if (error instanceof UniqueConstraintError) {
          throw new AppError('resource_servers.exists', `${input.identifier} exists already`, { status: 409, cause: error });
        }
        throw error;
      });
      await onChange(input.identifier);
      return toResourceServer(row);
    },

    async listResourceServers(): Promise<ResourceServer[]> {
      return (await ResourceServerRecord.findAll({ order: [['identifier', 'ASC']] })).map(toResourceServer);
    },

    async findResourceServer(identifier: string): Promise<ResourceServer | undefined> {
      const row = await ResourceServerRecord.findByPk(identifier);
      return row ? toResourceServer(row) : undefined;
    },

    async removeResourceServer(identifier: string): Promise<boolean> {
      const removed = (await ResourceServerRecord.destroy({ where: { identifier } })) > 0;
      if (removed) await onChange(identifier);
      return removed;
    },
  };
}

export type ClientStore = ReturnType<typeof createClientStore>;

/**
 * oidc-provider's adapter for the `Client` model: read-only, cached. A miss is cached too, so a
 * flood of unknown client ids cannot turn into a flood of Postgres queries.
 */
export function createClientAdapter(
  store: ClientStore,
  cacheMs: number,
): {
  adapter: Adapter;
  invalidate(clientId?: string): void;
} {
  const MISSING = Symbol('missing');
  const cache = new LRUCache<string, AdapterPayload | typeof MISSING>({
    max: 10_000,
    ttl: Math.max(cacheMs, 1),
    fetchMethod: async (clientId) => (await store.providerMetadata(clientId)) ?? MISSING,
    // PostgreSQL down: keep serving the client as last read rather than refusing every service.
    allowStaleOnFetchRejection: true,
    noDeleteOnFetchRejection: true,
  });
  const readOnly = async (): Promise<never> => {
    throw new Error('clients are managed with the CLI or the admin console, not by oidc-provider');
  };
  const adapter: Adapter = {
    async find(id) {
      if (cacheMs > 0) {
        const hit = await cache.fetch(id);
        if (hit !== undefined) return hit === MISSING ? undefined : hit;
        // Aborted by an invalidation in flight, or failed with nothing stale to serve: read afresh
        // (a storage outage then surfaces as 503, not as "no such client").
      }
      return (await store.providerMetadata(id)) ?? undefined;
    },
    upsert: readOnly,
    findByUid: readOnly,
    findByUserCode: readOnly,
    consume: readOnly,
    destroy: readOnly,
    revokeByGrantId: readOnly,
  };
  return {
    adapter,
    invalidate(clientId) {
      if (clientId) cache.delete(clientId);
      else cache.clear();
    },
  };
}

/** Resource server lookups for resource indicators, cached like clients. */
export function createResourceServerCache(store: ClientStore, cacheMs: number) {
  const MISSING = Symbol('missing');
  const cache = new LRUCache<string, ResourceServer | typeof MISSING>({
    max: 1_000,
    ttl: Math.max(cacheMs, 1),
    fetchMethod: async (identifier) => (await store.findResourceServer(identifier)) ?? MISSING,
    allowStaleOnFetchRejection: true,
    noDeleteOnFetchRejection: true,
  });
  return {
    async find(identifier: string): Promise<ResourceServer | undefined> {
      if (cacheMs > 0) {
        const hit = await cache.fetch(identifier);
        if (hit !== undefined) return hit === MISSING ? undefined : hit;
      }
      return store.findResourceServer(identifier);
    },
    invalidate(): void {
      cache.clear();
    },
  };
}

/** The shortest `client_secret` production accepts in CLIENTS_FILE (generated ones are 43 characters). */
export const MIN_FILE_CLIENT_SECRET_LENGTH = 32;

/** How CLIENTS_FILE is read under this configuration: production refuses short secrets. */
export function clientsFileOptions(config: { env: string }): { minSecretLength: number } {
  return { minSecretLength: config.env === 'production' ? MIN_FILE_CLIENT_SECRET_LENGTH : 0 };
}

/**
 * Read CLIENTS_FILE: a JSON array of oidc-provider client metadata. With `minSecretLength`
 * (production: {@link MIN_FILE_CLIENT_SECRET_LENGTH}) a hand-chosen `client_secret` shorter than
 * that is refused, naming the client, never the secret.
 */
export function readClientsFile(file: string, options: { minSecretLength?: number } = {}): ClientMetadata[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`CLIENTS_FILE (${file}): cannot be read as JSON: ${(error as Error).message}`, { cause: error });
  }
  if (!Array.isArray(parsed) || parsed.some((c) => typeof c !== 'object' || c === null || !('client_id' in c))) {
    throw new Error(`CLIENTS_FILE (${file}): must be a JSON array of client metadata objects with client_id`);
  }
  const min = options.minSecretLength ?? 0;
  const weak = (parsed as Record<string, unknown>[])
    .filter((client) => typeof client.client_secret === 'string' && client.client_secret.length < min)
    .map((client) => String(client.client_id));
  if (weak.length > 0) {
    throw new Error(
      `CLIENTS_FILE (${file}): client_secret of ${weak.join(', ')} is shorter than ${min} characters; ` +
        'use a random one (openssl rand -base64 32) or register the client with `dingtalk-oidc clients add`',
    );
  }
  return parsed as ClientMetadata[];
}

function toResourceServer(row: {
  identifier: string;
  name: string;
  scopes: string[];
  tokenFormat: 'jwt' | 'opaque';
  accessTokenTtl: number | null;
  signingAlg: string | null;
}): ResourceServer {
  return {
    identifier: row.identifier,
    name: row.name,
    scopes: row.scopes,
    tokenFormat: row.tokenFormat,
    accessTokenTtl: row.accessTokenTtl,
    signingAlg: row.signingAlg,
  };
}

function clientExists(clientId: string, cause: unknown): AppError {
  return new AppError('clients.exists', 'a client with this id exists already', { status: 409, cause });
}

function newSecret(): string {
  return randomBytes(32).toString('base64url'); // 256 bits
}

function slug(name: string): string {
  const s = name
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
  return s || 'client';
}

function isNativeRedirects(uris: string[] = []): boolean {
  return uris.length > 0 && uris.every((uri) => !/^https?:/.test(uri) || /^http:\/\/(127\.0\.0\.1|\[::1\]|localhost)/.test(uri));
}

function withoutSecret(metadata: Record<string, unknown>): Record<string, unknown> {
  const { client_secret: _secret, ...rest } = metadata;
  return rest;
}
