import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { AuditLog } from '../accounts/audit.js';
import type { Logger } from '../log.js';

/**
 * oidc-provider's events → audit log and logs (docs: "Events"). Listeners never throw; an audit
 * write that fails is logged by the audit log itself.
 */
export function attachProviderEvents(provider: Provider, deps: { audit: AuditLog; logger: Logger }): void {
  const { audit, logger } = deps;
  const ip = (ctx: KoaContextWithOIDC | undefined): string | null => ctx?.ip ?? null;

  provider.on('end_session.success', (ctx: KoaContextWithOIDC) => {
    const session = ctx.oidc.session as { accountId?: string } | undefined;
    void audit.record({
      type: 'logout',
      accountId: session?.accountId ?? null,
      clientId: ctx.oidc.client?.clientId ?? null,
      ip: ip(ctx),
    });
  });
  provider.on('backchannel.success', (_ctx: KoaContextWithOIDC, client: { clientId: string }, accountId: string, sid: string) => {
    logger.info({ clientId: client.clientId, accountId, sid }, 'back-channel logout delivered');
  });
  provider.on('backchannel.error', (ctx: KoaContextWithOIDC, error: Error, client: { clientId: string }, accountId: string) => {
    logger.warn({ clientId: client.clientId, accountId, err: error }, 'back-channel logout failed');
    void audit.record({
      type: 'logout.backchannel_failed',
      accountId,
      clientId: client.clientId,
      ip: ip(ctx),
      details: { error: error.message },
    });
  });
  provider.on('grant.revoked', (ctx: KoaContextWithOIDC, grantId: string) => {
    void audit.record({
      type: 'grant.revoked',
      clientId: ctx?.oidc?.client?.clientId ?? null,
      accountId: (ctx?.oidc?.entities?.Grant as { accountId?: string } | undefined)?.accountId ?? null,
      ip: ip(ctx),
      details: { grantId, route: ctx?.oidc?.route },
    });
  });
}
