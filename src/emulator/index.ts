/** The DingTalk emulator's public surface: the server, its state and the event pusher. */
export { createEmulator, type Emulator, type EmulatorOptions, type RunningEmulator } from './emulator.js';
export { contactEvent, pushEvent, type PushEventOptions, type PushEventResult } from './event-pusher.js';
export { defaultSeed, parseSeed, type EmulatorSeed, type SeedUser, type SeedUserInput } from './seed.js';
export {
  DEFAULT_PERMISSIONS,
  PERMISSION,
  EmulatorState,
  type DirectoryChange,
  type EmulatorCall,
  type EmulatorFault,
  type EmulatorUser,
} from './state.js';
export { StreamGateway } from './stream/gateway.js';
export {
  STREAM_CONNECT_PATH,
  STREAM_OPEN_PATH,
  type StreamConnectionInfo,
  type StreamEventInput,
  type StreamGatewayOptions,
  type StreamReplyRecord,
  type StreamSubscription,
} from './stream/types.js';
export { INVALID_AUTH_CODE } from './api-routes.js';
export { generateOrg, GENERATED_DEPT_BASE, type GeneratedOrg, type GeneratedOrgOptions } from './org-generator.js';
export { DINGTALK_ADDRESS_LIMIT, type AddressLimit, type QpsWindow } from './limits.js';
export type { CallbackCodeParam } from './login-routes.js';
export { JSAPI_PATH } from './jsapi.js';
