import type { AccessCheck } from '../accounts/access.js';
import type { AuditLog } from '../accounts/audit.js';
import type { ConsentStore } from '../accounts/consents.js';
import type { Provisioning } from '../accounts/provisioning.js';
import type { Config } from '../config/schema.js';
import type { DingTalkSignIn } from '../dingtalk/index.js';
import type { PageRenderer } from '../ui/pages.js';
import type { Logger } from '../log.js';
import type { ProviderHolder } from '../oidc/provider.js';
import type { EphemeralStore } from '../store/ephemeral.js';

export interface InteractionDeps {
  config: Config;
  holder: ProviderHolder;
  pages: PageRenderer;
  dingtalk: DingTalkSignIn;
  provisioning: Provisioning;
  consents: ConsentStore;
  ephemeral: EphemeralStore;
  audit: AuditLog;
  logger: Logger;
  /** The client's access policy (who may use the application). */
  mayUse: AccessCheck;
}

/** Lifetime of a DingTalk `state`: the time a person may spend on DingTalk's login page. */
export const STATE_TTL_SECONDS = 600;
/** Lifetime of the hand-over from the callback to the interaction: one redirect. */
export const HANDOVER_TTL_SECONDS = 120;

export interface LoginState {
  uid: string;
  browser: string;
  /** When the callback first asked this sign-in to wait for DingTalk (ms since the epoch). */
  waitingSince?: number;
}

export interface Handover extends LoginState {
  accountId: string;
}
