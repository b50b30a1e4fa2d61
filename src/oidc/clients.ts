/**
 * Clients: registered in Postgres (by the admin console, the admin API and the CLI, through the
 * admin operations) or listed in CLIENTS_FILE (clients-file.ts). oidc-provider reads them through
 * `createClientAdapter` (client-adapter.ts), read-only and cached; every change is announced through
 * `onChange` so that each replica drops its copy at once. The secret is stored encrypted
 * (SecretBox) and shown only once. Resource servers are managed along (resource-servers.ts).
 */
import { randomBytes } from 'node:crypto';
import type { AdapterPayload, ClientMetadata } from 'oidc-provider';
import type { Models } from '../db/models/index.js';
import { Op, UniqueConstraintError } from 'sequelize';
import { AppError } from '../errors/app-error.js';
import { createResourceServerStore } from './resource-servers.js';
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

/** Validates metadata the way oidc-provider will (provider.Client.validate). */
export type MetadataValidator = (metadata: ClientMetadata) => Promise<void>;

export function createClientStore(
  models: Models,
  box: SecretBox,
  fileClients: readonly ClientMetadata[] = [],
  /** Told after every change (a client id or a resource identifier), to drop caches everywhere. */
  onChange: (id: string) => Promise<void> = async () => undefined,
) {
  const { ClientRecord } = models;

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

    ...createResourceServerStore(models, onChange),
  };
}

export type ClientStore = ReturnType<typeof createClientStore>;

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
