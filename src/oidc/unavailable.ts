import { errors, type Adapter } from 'oidc-provider';
import { isStoreUnavailable } from '../store/unavailable.js';

/**
 * A storage outage seen by oidc-provider: `503 temporarily_unavailable` (RFC 6749 §4.1.2.1 names
 * the error; §5.2 leaves the token endpoint's status to us), shown to the client because
 * oidc-provider turns every other 5xx into an opaque `server_error`.
 */
export class StoreUnavailableError extends errors.OIDCProviderError {
  constructor(cause: unknown) {
    super(503, 'temporarily_unavailable');
    this.expose = true;
    Object.assign(this, { error_description: 'the service is temporarily unavailable, try again shortly', cause });
  }
}

function translate(error: unknown): never {
  throw isStoreUnavailable(error) ? new StoreUnavailableError(error) : error;
}

const METHODS = ['find', 'findByUid', 'findByUserCode', 'upsert', 'consume', 'destroy', 'revokeByGrantId'] as const;

/** The same adapter, with outages turned into StoreUnavailableError. */
export function withUnavailableErrors(adapter: Adapter): Adapter {
  const wrapped = Object.create(adapter) as Adapter;
  for (const method of METHODS) {
    const original = (adapter as unknown as Record<string, ((...args: unknown[]) => Promise<unknown>) | undefined>)[method];
    if (!original) continue;
    (wrapped as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => original.apply(adapter, args).catch(translate);
  }
  return wrapped;
}

/** Wrap any async function the provider calls into our stores (findAccount, loadExistingGrant…). */
export function unavailableAware<A extends unknown[], R>(fn: (...args: A) => R | Promise<R>): (...args: A) => Promise<R> {
  return async (...args) => {
    try {
      return await fn(...args);
    } catch (error) {
      return translate(error);
    }
  };
}
