/**
 * The DingTalk boundary's public contract: the only module outside `src/dingtalk/` imports. Two
 * small interfaces (contract.ts): sign-in (`DingTalkSignIn`) and the directory (`DingTalkDirectory`),
 * both speaking `UpstreamIdentity`; plus the token cache they share, the event transports (which hand
 * over `DirectoryEvent`s) and the error helpers. DingTalk's own field names, API paths and raw event
 * names stay behind this line.
 */
export {
  createDingTalk,
  type CheckSubject,
  type DingTalk,
  type DingTalkDirectory,
  type DingTalkSignIn,
  type DingTalkOptions,
  type DirectoryCheck,
  type DirectoryStep,
  unusedSignInCode,
} from './contract.js';
export type { AuthorizationUrlParams } from './sign-in-calls.js';
export {
  BudgetExhaustedError,
  createCallBudget,
  DEFAULT_CALL_BUDGET_LIMITS,
  isBudgetExhausted,
  type CallBudget,
  type CallBudgetLimits,
  type CallPriority,
  type SlotDecision,
} from './call-budget.js';
export {
  appTokenKey,
  cacheTtlMs,
  createMemoryCorpTokenCache,
  createRedisCorpTokenCache,
  DEFAULT_SAFETY_MARGIN_MS,
  type AppTokenGrant,
  type CorpTokenCache,
  type MemoryCorpTokenCacheOptions,
  type RedisCorpTokenCacheOptions,
} from './corp-token-cache.js';
export { createMemoryUseridCache, createRedisUseridCache, USERID_TTL_SECONDS, useridKey, type UseridCache } from './userid-cache.js';
export { createMemoryDepartmentCache, type DepartmentCache, type MemoryDepartmentCacheOptions } from './department-cache.js';
export {
  isDingTalkError,
  isThrottled,
  upstreamFailureText,
  type DingTalkErrorCode,
  type DingTalkErrorDetail,
  type UpstreamFailure,
} from './errors.js';
export { createEventCrypto, type EncryptedReply, type EventCrypto, type EventCryptoOptions, type SignedEvent } from './event-crypto.js';
export { toUpstreamIdentity, type UpstreamDepartment, type UpstreamIdentity } from './identity.js';
export { eventRequestBodySchema } from './schemas.js';
export {
  isUnreadable,
  type DirectoryEvent,
  type EventAck,
  type EventSink,
  type EventTransport,
  type UnreadableEvent,
} from './directory-event.js';
export { createStreamClient, type StreamClient, type StreamClientOptions } from './stream-client.js';
export { STREAM_OPEN_PATH } from './stream-open.js';
export { type StreamErrorCode, type StreamEventOutcome, type StreamState, type StreamStatus } from './stream-status.js';
export { parseHttpPush, type HttpPush } from './http-event.js';
export { directoryChangeOf, isDepartmentRemoval, type DirectoryChange } from './event-types.js';
