/**
 * Resource servers (RFC 8707 resource indicators) registered in Postgres, managed with clients
 * (the client store spreads these methods in); oidc-provider reads them through
 * `createResourceServerCache` (client-adapter.ts).
 */
import { UniqueConstraintError } from 'sequelize';
import type { Models } from '../db/models/index.js';
import { AppError } from '../errors/app-error.js';

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

export function createResourceServerStore(models: Models, onChange: (id: string) => Promise<void>) {
  const { ResourceServerRecord } = models;
  return {
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

/** The fields of a ResourceServerRecord row, copied into a plain object. */
function toResourceServer(row: ResourceServer): ResourceServer {
  return {
    identifier: row.identifier,
    name: row.name,
    scopes: row.scopes,
    tokenFormat: row.tokenFormat,
    accessTokenTtl: row.accessTokenTtl,
    signingAlg: row.signingAlg,
  };
}
