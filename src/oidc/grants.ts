import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';
import type { ConsentStore } from '../accounts/consents.js';

/**
 * oidc-provider's `loadExistingGrant` (docs: "loadExistingGrant"): the grant of this session, else
 * one built from what the person consented to before (remembered across sessions), else — for a
 * first-party application — one with everything it asked for, so consent is never shown.
 * Whatever a grant lacks is still asked for on the consent page.
 */
export function createLoadExistingGrant(consents: ConsentStore): NonNullable<Configuration['loadExistingGrant']> {
  return async (ctx: KoaContextWithOIDC) => {
    const { oidc } = ctx;
    const client = oidc.client!;
    const session = oidc.session!;
    const grantId = (oidc.result?.consent as { grantId?: string } | undefined)?.grantId ?? session.grantIdFor(client.clientId);
    if (grantId) return oidc.provider.Grant.find(grantId);
    const accountId = session.accountId;
    if (!accountId) return undefined;

    const firstParty = (client as unknown as { first_party?: boolean }).first_party === true;
    const remembered = firstParty ? undefined : await consents.find(accountId, client.clientId);
    if (!firstParty && !remembered) return undefined;

    const grant = new oidc.provider.Grant({ clientId: client.clientId, accountId });
    if (firstParty) {
      const params = oidc.params as Record<string, unknown>;
      const scope = typeof params.scope === 'string' ? params.scope : 'openid';
      grant.addOIDCScope(scope);
      const requested = oidc.claims as { id_token?: Record<string, unknown>; userinfo?: Record<string, unknown> };
      const claims = [...Object.keys(requested.id_token ?? {}), ...Object.keys(requested.userinfo ?? {})];
      if (claims.length > 0) grant.addOIDCClaims(claims);
      for (const [indicator, server] of Object.entries(oidc.resourceServers ?? {})) {
        if (server.scope) grant.addResourceScope(indicator, server.scope);
      }
    } else if (remembered) {
      if (remembered.scopes.length > 0) grant.addOIDCScope(remembered.scopes.join(' '));
      if (remembered.claims.length > 0) grant.addOIDCClaims(remembered.claims);
      for (const [indicator, scopes] of Object.entries(remembered.resourceScopes)) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
    }
    await grant.save();
    return grant;
  };
}
