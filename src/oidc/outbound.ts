/**
 * oidc-provider's outgoing requests (its `fetch` option, docs: "fetch"): back-channel logout tokens
 * and client `jwks_uri` documents, whose URLs a client registration chooses. In production they
 * must not reach the inside of the network (SSRF): a connection to a loopback, private, link-local,
 * cloud-metadata or other special-use address is refused when the socket has connected, so the
 * check holds after DNS resolution (no rebinding between a check and the connect) and for every
 * redirect hop, which opens its own connection through the same dispatcher. oidc-provider's own
 * guard (lib/helpers/fetch_request.js) works the same way on Node's built-in dispatcher; this one is
 * on undici's, with an allow list (OUTBOUND_ALLOWED_HOSTS) for a company's internal apps.
 *
 * A failure is reported as an {@link OutboundError} with a fixed, generic message: the network
 * error (refused, reset, TLS, address) never reaches an admin page, the admin API or the CLI, where
 * it would make a port scanner of the client registration.
 */
import { Agent, buildConnector, fetch as undiciFetch } from 'undici';
import { createAllowList, isSpecialUseAddress } from '../config/address-list.js';
import { OutboundError } from '../errors/outbound-error.js';

export { OutboundError };

export interface OutboundOptions {
  /** Refuse special-use destinations (production). */
  blockPrivate: boolean;
  /** Host names (exact, or `.example.com` for a domain and its subdomains), IP addresses or CIDR ranges allowed even so. */
  allowed: readonly string[];
  /** Per attempt; oidc-provider's own deadline is 2.5 s. */
  timeoutMs?: number;
  /** Attempts on network errors and 5xx answers. */
  attempts?: number;
}

const BLOCKED = Symbol('outbound blocked');

/** An undici dispatcher whose connections to special-use addresses fail, unless the host or address is allowed. */
export function createGuardedDispatcher(options: Pick<OutboundOptions, 'blockPrivate' | 'allowed'>): Agent {
  const connect = buildConnector({ timeout: 2_500 });
  const allow = createAllowList(options.allowed);
  return new Agent({
    connect: (connectOptions, callback) => {
      connect(connectOptions, (error, socket) => {
        if (error || !socket) {
          callback(error ?? new Error('no socket'), null);
          return;
        }
        const remote = socket.remoteAddress ?? '';
        const hostname = connectOptions.hostname;
        if (options.blockPrivate && isSpecialUseAddress(remote) && !allow.host(hostname) && !allow.address(remote)) {
          socket.destroy();
          callback(Object.assign(new Error('destination refused'), { [BLOCKED]: true }), null);
          return;
        }
        callback(null, socket);
      });
    },
  });
}

function isBlocked(error: unknown): boolean {
  for (let e: unknown = error; e; e = (e as { cause?: unknown }).cause) {
    if (typeof e === 'object' && e !== null && BLOCKED in e) return true;
  }
  return false;
}

function isTimeout(error: unknown): boolean {
  for (let e: unknown = error; e; e = (e as { cause?: unknown }).cause) {
    const name = (e as { name?: unknown }).name;
    const code = (e as { code?: unknown }).code;
    if (
      name === 'TimeoutError' ||
      code === 'UND_ERR_CONNECT_TIMEOUT' ||
      code === 'UND_ERR_HEADERS_TIMEOUT' ||
      code === 'UND_ERR_BODY_TIMEOUT'
    )
      return true;
  }
  return false;
}

/**
 * The `fetch` given to oidc-provider: the guarded dispatcher (oidc-provider's own `dispatcher`,
 * set for Node's built-in fetch, is replaced), a deadline per attempt, and up to two retries on
 * network errors and 5xx answers; a refused destination is not retried.
 */
export function createOutboundFetch(options: OutboundOptions): (url: string | URL | Request, init?: RequestInit) => Promise<Response> {
  const dispatcher = createGuardedDispatcher(options);
  const timeoutMs = options.timeoutMs ?? 2_500;
  const attempts = options.attempts ?? 3;
  return async (url, init = {}) => {
    const { dispatcher: _builtInGuard, signal: _single, ...rest } = init as RequestInit & { dispatcher?: unknown };
    let lastError: unknown;
    for (let attempt = 0; attempt < attempts; attempt += 1) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 200 * 2 ** (attempt - 1)));
      try {
        const response = (await undiciFetch(url as string, {
          ...(rest as object),
          dispatcher,
          signal: AbortSignal.timeout(timeoutMs),
        })) as unknown as Response;
        if (response.status < 500 || attempt === attempts - 1) return response;
        lastError = undefined;
      } catch (error) {
        if (isBlocked(error)) throw new OutboundError('blocked', { cause: error });
        lastError = error;
      }
    }
    if (lastError === undefined) throw new OutboundError('unreachable');
    throw new OutboundError(isTimeout(lastError) ? 'timeout' : 'unreachable', { cause: lastError });
  };
}
