/** CLIENTS_FILE: clients listed in a JSON file instead of registered in Postgres. */
import { readFileSync } from 'node:fs';
import type { ClientMetadata } from 'oidc-provider';

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
