import type { ClientStore } from '../oidc/clients.js';

/** The console's own client at our issuer. */
export const ADMIN_CLIENT_ID = 'admin-console';
/** Scopes of the admin API resource server: read (GET) and write (everything else). */
export const ADMIN_SCOPES = { read: 'admin:read', write: 'admin:write' } as const;

/** The admin API's resource indicator (RFC 8707): `${issuer}/admin`. */
export function adminResource(issuer: string): string {
  return `${issuer}/admin`;
}

export interface AdminClient {
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  postLogoutRedirectUri: string;
}

/**
 * Makes sure the console's client (first-party, confidential, code + PKCE) and the admin API's
 * resource server exist; safe to run at every start and on several replicas at once (a lost race
 * is re-read). A client registered for another issuer (ISSUER changed) is registered again, which
 * gives it a new secret: only this process uses it, and it reads it here.
 */
export async function ensureAdminClient(store: ClientStore, issuer: string): Promise<AdminClient> {
  const redirectUri = `${issuer}/admin/callback`;
  const postLogoutRedirectUri = `${issuer}/admin`;
  const resource = adminResource(issuer);

  if (!(await store.findResourceServer(resource))) {
    try {
      await store.addResourceServer({
        identifier: resource,
        name: 'Admin API',
        scopes: [ADMIN_SCOPES.read, ADMIN_SCOPES.write],
        tokenFormat: 'jwt',
      });
    } catch (error) {
      if (!(await store.findResourceServer(resource))) throw error;
    }
  }

  const read = async () => {
    const metadata = await store.providerMetadata(ADMIN_CLIENT_ID);
    const uris = metadata?.redirect_uris as unknown;
    const current = Array.isArray(uris) && uris.length === 1 && uris[0] === redirectUri;
    return metadata && current && typeof metadata.client_secret === 'string' ? metadata.client_secret : undefined;
  };
  let clientSecret = await read();
  if (clientSecret === undefined) {
    if (await store.get(ADMIN_CLIENT_ID)) await store.remove(ADMIN_CLIENT_ID);
    try {
      clientSecret = (
        await store.add({
          clientId: ADMIN_CLIENT_ID,
          name: 'Admin console',
          redirectUris: [redirectUri],
          postLogoutRedirectUris: [postLogoutRedirectUri],
          grantTypes: ['authorization_code'],
          firstParty: true,
          scope: 'openid profile',
        })
      ).clientSecret;
    } catch (error) {
      clientSecret = await read();
      if (clientSecret === undefined) throw error;
    }
  }
  return { clientId: ADMIN_CLIENT_ID, clientSecret: clientSecret!, redirectUri, postLogoutRedirectUri };
}
