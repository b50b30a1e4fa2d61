/**
 * The DingTalk world: the configured DingTalk app, or — in development without credentials — the
 * built-in emulator, served by this same server under EMULATOR_PATH. Like store/index.ts for the
 * stores, this is the one place that picks; only the DINGTALK_* settings tell the two apart.
 */
import { randomBytes } from 'node:crypto';
import { EMULATOR_PATH, usesEmulator } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { createDingTalk, createMemoryDepartmentCache, type DingTalk } from '../dingtalk/index.js';
import type { Emulator } from '../emulator/index.js';
import type { Logger } from '../log.js';
import { type Metrics, observeCallBudget, observeDingTalkCall } from '../metrics.js';
import type { Stores } from '../store/index.js';

export { EMULATOR_PATH };

/**
 * The DingTalk client on the configured DingTalk, or — in development without credentials — on
 * the built-in emulator served by this same server under EMULATOR_PATH, so that only the
 * DINGTALK_* settings tell the two apart.
 */
export async function setUpDingTalk(
  config: Config,
  stores: Stores,
  logger: Logger,
  metrics: Metrics,
): Promise<{
  /** Sign-in and the directory, each at its priority in the call budget (dingtalk/contract.ts). */
  dingtalk: DingTalk;
  emulator?: Emulator;
  dingtalkClientId: string;
  /** The app's credentials and api base URL (the emulator's in development), for the Stream connection. */
  app: { clientId: string; clientSecret: string; apiBaseUrl: string };
  corpId?: string;
}> {
  let settings = {
    clientId: config.dingtalk.clientId ?? '',
    clientSecret: config.dingtalk.clientSecret ?? '',
    corpId: config.dingtalk.corpId,
    loginBaseUrl: config.dingtalk.loginBaseUrl,
    apiBaseUrl: config.dingtalk.apiBaseUrl,
    oapiBaseUrl: config.dingtalk.oapiBaseUrl,
  };
  let emulator: Emulator | undefined;
  if (usesEmulator(config)) {
    // Loaded only when it is used: production never needs the emulator (issue #15: idle memory).
    const { createEmulator, defaultSeed } = await import('../emulator/index.js');
    const base = `${config.issuer}${EMULATOR_PATH}`;
    const corpId = config.dingtalk.corpId ?? defaultSeed().corp.corpId;
    settings = {
      clientId: 'dingtalk-emulator-app',
      clientSecret: randomBytes(24).toString('base64url'),
      corpId,
      loginBaseUrl: base,
      apiBaseUrl: base,
      oapiBaseUrl: base,
    };
    emulator = createEmulator({
      clientId: settings.clientId,
      clientSecret: settings.clientSecret,
      corpId,
      publicBaseUrl: base,
      redirectUris: [`${config.issuer}/dingtalk/callback`],
      ...(config.dingtalk.emulator.orgSize > 0
        ? { generatedOrg: { size: config.dingtalk.emulator.orgSize, seed: config.dingtalk.emulator.orgSeed } }
        : {}),
      ...(config.dingtalk.emulator.limits ? {} : { qpsLimit: false, addressLimit: false }),
    });
  }
  const tokenCache = stores.corpTokenCache(settings.clientId);
  // One budget for every caller of this app; with Redis, for every replica too.
  const budget = stores.callBudget({
    appKey: settings.clientId,
    limits: config.dingtalk.callBudget,
    ...observeCallBudget(metrics, logger),
  });
  const shared = {
    ...settings,
    timeoutMs: config.dingtalk.timeoutMs,
    tokenCache,
    departmentCache: createMemoryDepartmentCache(),
    useridCache: stores.useridCache(settings.clientId),
    budget,
    onCall: observeDingTalkCall(metrics, logger),
  };
  const dingtalk = createDingTalk({ ...shared, codeWaitMs: config.dingtalk.callBudget.signInCodeWaitMs });
  return {
    dingtalk,
    emulator,
    dingtalkClientId: settings.clientId,
    app: { clientId: settings.clientId, clientSecret: settings.clientSecret, apiBaseUrl: settings.apiBaseUrl },
    ...(settings.corpId === undefined ? {} : { corpId: settings.corpId }),
  };
}
