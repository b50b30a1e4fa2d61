import type { AdapterConstructor, AdapterPayload } from 'oidc-provider';

/**
 * Models whose records carry the signed-in person (`accountId`) and are indexed by it, so that
 * everything of one person can be found and revoked (an admin action, a leaver from DingTalk).
 * Tokens are not listed: each belongs to a grant, and revoking the grant removes them.
 */
export const ACCOUNT_INDEXED_MODELS: ReadonlySet<string> = new Set(['Session', 'Grant']);

/** The account a record of `model` is indexed under: a Session's or Grant's `accountId`, if any. */
export function indexedAccountOf(model: string, payload: AdapterPayload): string | undefined {
  if (!ACCOUNT_INDEXED_MODELS.has(model)) return undefined;
  const { accountId } = payload;
  return typeof accountId === 'string' && accountId !== '' ? accountId : undefined;
}

/**
 * What is stored for one person. oidc-provider has no "find by account" in its adapter interface,
 * so this is a separate read side of our adapters, over the same store.
 */
export interface AccountIndex {
  /** Ids (`jti`, the value behind the session cookie) of the account's live Sessions. */
  sessionIds(accountId: string): Promise<string[]>;
  /** Ids of the account's live Grants (one per client the person authorised). */
  grantIds(accountId: string): Promise<string[]>;
}

/** An adapter constructor (oidc-provider's `adapter` option) that also answers "what does this account have". */
export type IndexedAdapterConstructor = AdapterConstructor & { readonly accountIndex: AccountIndex };
