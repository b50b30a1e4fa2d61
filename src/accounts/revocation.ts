import type Provider from 'oidc-provider';
import type { Client } from 'oidc-provider';

import { OutboundError } from '../errors/outbound-error.js';
import type { AccountIndex } from '../store/account-index.js';

/** One back-channel logout token sent (or not) to an app of one of the person's sessions. */
export interface BackchannelDelivery {
  clientId: string;
  /** The session id the app knows (`sid` of the logout token and of the ID tokens it got). */
  sid?: string;
  ok: boolean;
  /** Why it failed: the RP's status or the transport error. Never a stack. */
  error?: string;
}

/** What {@link revokeAccount} did. */
export interface RevocationResult {
  accountId: string;
  reason: string;
  /** Sessions destroyed. */
  sessions: number;
  /** Grants revoked, each with every token issued under it. */
  grants: number;
  /** Every logout token attempted; the failed ones are also in `failures`. */
  backchannel: BackchannelDelivery[];
  failures: BackchannelDelivery[];
  /** Logout tokens handed to `deferLogouts` instead of being sent (the event inbox sends them later). */
  deferred: number;
}

export interface RevokeAccountOptions {
  /** Why (e.g. `dingtalk.left_org`, `admin.revoke`); returned for the caller's audit entry. */
  reason: string;
  /**
   * Instead of sending the logout tokens now, hand their targets here — called before anything is
   * destroyed, so once it has stored them durably a crash cannot lose a notification (the event
   * inbox's urgent part). Its failure stops the revocation before anything was destroyed.
   */
  deferLogouts?: (targets: LogoutTarget[]) => Promise<void>;
}

/** An app to send a logout token to, and the session id it knows (`sid` of its ID tokens). */
export interface LogoutTarget {
  clientId: string;
  sid?: string | undefined;
}

/**
 * The token models oidc-provider revokes by grant (its `revoke` helper, lib/helpers/revoke.js):
 * with our adapters one call empties the shared grant index, but asking every model keeps this
 * right for any adapter.
 */
export const GRANT_TOKEN_MODELS = [
  'AccessToken',
  'RefreshToken',
  'AuthorizationCode',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
] as const;

/** `Client#backchannelLogout(sub, sid)` exists in oidc-provider 9 (lib/models/client.js) but not in its types. */
type LogoutCapableClient = Client & { backchannelLogout(sub: string, sid: string | undefined): Promise<void> };

/**
 * Ends everything a person has at the provider: every Session (so no silent re-authorization) and
 * every Grant with all its access, refresh and authorization codes (so introspection answers
 * `active: false` and a refresh fails with `invalid_grant`), then sends a back-channel logout token
 * to each app of those sessions that registered a `backchannel_logout_uri` — oidc-provider's own
 * `client.backchannelLogout(accountId, sid)`, as its end_session action does.
 *
 * Order: the kill comes first and the notifications last, so a slow or dead RP (timeouts and
 * retries live in the provider's `fetch` option, oidc/configuration.ts) never keeps a token alive. A failed delivery does not throw: it is returned for the caller to audit. Safe to call
 * again: a second call finds nothing left.
 */
export async function revokeAccount(
  provider: Provider,
  index: AccountIndex,
  accountId: string,
  options: RevokeAccountOptions,
): Promise<RevocationResult> {
  const [sessionIds, indexedGrantIds] = await Promise.all([index.sessionIds(accountId), index.grantIds(accountId)]);
  const sessions = await Promise.all(sessionIds.map(async (id) => ({ id, session: await provider.Session.find(id) })));

  const grantIds = new Set(indexedGrantIds);
  const targets = new Map<string, LogoutTarget>();
  for (const { session } of sessions) {
    // The index only lists records of this account; the check guards against a stale record.
    if (!session || session.accountId !== accountId) continue;
    for (const [clientId, authorization] of Object.entries(session.authorizations ?? {})) {
      if (authorization.grantId) grantIds.add(authorization.grantId);
      targets.set(`${clientId}\u0000${authorization.sid ?? ''}`, { clientId, sid: authorization.sid });
    }
  }

  const deferred = [...targets.values()];
  if (options.deferLogouts && deferred.length > 0) await options.deferLogouts(deferred);

  await Promise.all([
    ...sessions.map(({ id, session }) =>
      session && session.accountId === accountId ? session.destroy() : provider.Session.adapter.destroy(id),
    ),
    ...[...grantIds].map((grantId) => revokeGrant(provider, grantId)),
  ]);

  const backchannel = options.deferLogouts ? [] : await sendLogouts(provider, accountId, deferred);

  return {
    accountId,
    reason: options.reason,
    sessions: sessions.length,
    grants: grantIds.size,
    backchannel,
    failures: backchannel.filter((delivery) => !delivery.ok),
    deferred: options.deferLogouts ? deferred.length : 0,
  };
}

/** Revokes every token issued under a grant, then the grant itself. */
export async function revokeGrant(provider: Provider, grantId: string): Promise<void> {
  await Promise.all(GRANT_TOKEN_MODELS.map((model) => provider[model].revokeByGrantId(grantId)));
  await provider.Grant.adapter.destroy(grantId);
}

/**
 * Sends a back-channel logout token for `accountId` to each target at once; the apps without a
 * `backchannel_logout_uri` (or gone) are left out. Never throws: a failed delivery is returned with
 * `ok: false` and why. Call it after the sessions and grants are gone, as {@link revokeAccount} does.
 */
export async function sendLogouts(provider: Provider, accountId: string, targets: Iterable<LogoutTarget>): Promise<BackchannelDelivery[]> {
  const deliveries = await Promise.all([...targets].map((target) => sendLogout(provider, accountId, target)));
  return deliveries.filter((delivery): delivery is BackchannelDelivery => delivery !== undefined);
}

/** `undefined` when the app is gone or registered no back-channel logout URI. */
async function sendLogout(provider: Provider, accountId: string, target: LogoutTarget): Promise<BackchannelDelivery | undefined> {
  const about = { clientId: target.clientId, ...(target.sid === undefined ? {} : { sid: target.sid }) };
  let client: LogoutCapableClient | undefined;
  try {
    client = (await provider.Client.find(target.clientId)) as LogoutCapableClient | undefined;
  } catch (error) {
    return { ...about, ok: false, error: describe(error) };
  }
  if (!client?.backchannelLogoutUri) return undefined;
  try {
    await client.backchannelLogout(accountId, target.sid);
    return { ...about, ok: true };
  } catch (error) {
    return { ...about, ok: false, error: describe(error) };
  }
}

/**
 * Why a delivery failed, in words that say nothing about the network behind the app: the app's HTTP
 * status, or the outbound guard's generic reason (oidc/outbound.ts). Raw network errors (refused,
 * reset, addresses) never reach the console, the admin API or the CLI, where they would turn a
 * client's back-channel logout URI into a port scanner.
 */
function describe(error: unknown): string {
  if (error instanceof OutboundError) return error.message;
  const status = (error as { response?: { status?: unknown } } | undefined)?.response?.status;
  if (typeof status === 'number') return `the app answered HTTP ${status}`;
  return 'the delivery failed';
}
