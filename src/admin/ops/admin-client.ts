import type { ClientStore } from '../../oidc/clients.js';

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
 * is re-read). A client registered for another issuer URL (ISSUER changed) gets this issuer's
 * redirect URIs added, keeping its secret, so replicas never take the client from each other.
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
        // Short-lived: a JWT cannot be revoked, so revoking an admin stops their API tokens soon.
        accessTokenTtl: 300,
      });
    } catch (error) {
      if (!(await store.findResourceServer(resource))) throw error;
    }
  }

  const input = (redirectUris: string[], postLogoutRedirectUris: string[]) => ({
    name: 'Admin console',
    redirectUris,
    postLogoutRedirectUris,
    grantTypes: ['authorization_code' as const],
    firstParty: true,
    scope: 'openid profile',
  });
  // Several replicas (or test servers) may get here at once: read, add or extend, read again.
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const metadata = await store.providerMetadata(ADMIN_CLIENT_ID);
    if (!metadata) {
      await store.add({ clientId: ADMIN_CLIENT_ID, ...input([redirectUri], [postLogoutRedirectUri]) }).catch(() => undefined);
      continue;
    }
    const uris = Array.isArray(metadata.redirect_uris) ? (metadata.redirect_uris as string[]) : [];
    const logoutUris = Array.isArray(metadata.post_logout_redirect_uris) ? (metadata.post_logout_redirect_uris as string[]) : [];
    if (uris.includes(redirectUri) && logoutUris.includes(postLogoutRedirectUri) && typeof metadata.client_secret === 'string') {
      return { clientId: ADMIN_CLIENT_ID, clientSecret: metadata.client_secret, redirectUri, postLogoutRedirectUri };
    }
    // Registered for another issuer URL (a renamed deployment): add ours and keep the secret.
    await store
      .update(ADMIN_CLIENT_ID, input([...new Set([...uris, redirectUri])], [...new Set([...logoutUris, postLogoutRedirectUri])]))
      .catch(() => undefined);
  }
  throw new Error('the admin console client could not be registered');
}
