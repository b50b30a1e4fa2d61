import { ConnectionError, DatabaseError, TimeoutError } from 'sequelize';

/** ioredis failures that mean "Redis is not answering", not "this command is wrong". */
const REDIS_DOWN =
  /^(Too many Cluster redirections\. Last error: (Reply)?Error: )?(Command timed out|Connection is closed|Stream isn't writeable|Reached the max retries per request limit|CLUSTERDOWN|LOADING|MASTERDOWN|TRYAGAIN)/;
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * Is this a storage outage (Redis or PostgreSQL down, unreachable or too slow) rather than a bug?
 * Such failures become `503 temporarily_unavailable` and a "try again" page instead of a 500.
 */
export function isStoreUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'MaxRetriesPerRequestError' || REDIS_DOWN.test(error.message)) return true;
  // A MULTI on a failing Cluster: EXECABORT, with the real cause among its previous errors.
  const previous = (error as { previousErrors?: unknown }).previousErrors;
  if (Array.isArray(previous) && previous.some(isStoreUnavailable)) return true;
  if (NETWORK_CODES.has((error as NodeJS.ErrnoException).code ?? '')) return true;
  if (error instanceof ConnectionError || error instanceof TimeoutError) return true;
  if (error instanceof DatabaseError) {
    const original = error.original as { code?: string; message?: string } | undefined;
    // 57014: statement_timeout; "Query read timeout": pg's client-side query_timeout.
    return original?.code === '57014' || /Query read timeout/i.test(original?.message ?? error.message);
  }
  return false;
}
