/**
 * An outgoing request to an app (back-channel logout, jwks_uri) that failed, with a fixed, generic
 * message: the network error behind it stays on `cause`, for the log only (oidc/outbound.ts).
 */
export type OutboundFailure = 'blocked' | 'unreachable' | 'timeout';

export class OutboundError extends Error {
  constructor(
    readonly failure: OutboundFailure,
    options?: { cause?: unknown },
  ) {
    super(
      failure === 'blocked'
        ? 'the destination is on a private or special-use network (OUTBOUND_ALLOWED_HOSTS lists the allowed ones)'
        : failure === 'timeout'
          ? 'the destination did not answer in time'
          : 'the destination could not be reached',
      options,
    );
    this.name = 'OutboundError';
  }
}
