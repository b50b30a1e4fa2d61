/**
 * Production's refusal of weak secrets: sample placeholders (`CHANGE-ME…` in
 * deploy/kubernetes/secret.yaml), values with too little randomness to be a key, and one value used
 * for two purposes (KEY_ENCRYPTION_SECRET doubling as a cookie key: one leak would then give both
 * the encrypted keys and the power to forge session cookies). Problems name the variable, never
 * the value.
 */

/** Words of the samples and templates people copy; a random value never contains them. */
const PLACEHOLDER =
  /change[-_ ]?me|replace[-_ ]?me|placeholder|your[-_ ]?(own[-_ ]?)?(secret|password|key|token)|example|<[^>]*>|x{6,}|\.\.\./i;

/**
 * Estimated randomness, in bits, of a value made of random characters: its length times the
 * Shannon entropy of its own characters. A generated value (`openssl rand -hex 32`: 64 hex
 * characters) scores about 240; words, repeats and keyboard runs score far less.
 */
export function estimatedBits(value: string): number {
  const counts = new Map<string, number>();
  for (const char of value) counts.set(char, (counts.get(char) ?? 0) + 1);
  // oxlint-disable-next-line typescript/no-misused-spread -- code points are meant, as in the loop above
  const length = [...value].length;
  let perChar = 0;
  for (const count of counts.values()) {
    const p = count / length;
    perChar -= p * Math.log2(p);
  }
  return perChar * length;
}

/** Share of neighbouring characters that repeat or count up or down by one (`aaaa`, `abcd`, `4321`). */
function runShare(value: string): number {
  // oxlint-disable-next-line typescript/no-misused-spread -- code points are what is compared
  const codes = [...value].map((char) => char.codePointAt(0)!);
  if (codes.length < 2) return 1;
  let runs = 0;
  for (let i = 1; i < codes.length; i += 1) if (Math.abs(codes[i]! - codes[i - 1]!) <= 1) runs += 1;
  return runs / (codes.length - 1);
}

/** At least this many estimated bits: a 32-character random hex value (128 bits) scores about 110. */
export const MIN_SECRET_BITS = 96;

/** Why `value` is not fit to be a secret key, or undefined when it is. */
export function weakness(value: string): 'placeholder' | 'low-entropy' | undefined {
  if (PLACEHOLDER.test(value)) return 'placeholder';
  if (estimatedBits(value) < MIN_SECRET_BITS || new Set(value).size < 12 || runShare(value) > 0.5) return 'low-entropy';
  return undefined;
}

/** A `CHANGE-ME` (or similar) left in a setting that holds a credential, URL passwords included. */
export function isPlaceholder(value: string): boolean {
  return /change[-_ ]?me|replace[-_ ]?me|placeholder/i.test(value);
}

export interface SecretSettings {
  keyEncryption?: unknown;
  cookieKeys?: unknown;
  /** Other credentials checked for placeholders only (their format is someone else's). */
  others?: Record<string, unknown>;
}

/** Production problems with the secrets, each naming its variable. */
export function secretProblems(settings: SecretSettings): string[] {
  const problems: string[] = [];
  const advice = 'generate one with `openssl rand -hex 32`';
  if (typeof settings.keyEncryption === 'string') {
    const weak = weakness(settings.keyEncryption);
    if (weak === 'placeholder') problems.push(`KEY_ENCRYPTION_SECRET: still the sample placeholder: ${advice}`);
    else if (weak) problems.push(`KEY_ENCRYPTION_SECRET: too predictable to be a key (low entropy): ${advice}`);
  }
  const cookieKeys = Array.isArray(settings.cookieKeys) ? settings.cookieKeys.filter((key): key is string => typeof key === 'string') : [];
  cookieKeys.forEach((key, index) => {
    const weak = weakness(key);
    const which = cookieKeys.length > 1 ? ` (entry ${index + 1})` : '';
    if (weak === 'placeholder') problems.push(`COOKIE_SECRETS${which}: still the sample placeholder: ${advice}`);
    else if (weak) problems.push(`COOKIE_SECRETS${which}: too predictable to be a key (low entropy): ${advice}`);
  });
  if (typeof settings.keyEncryption === 'string' && cookieKeys.includes(settings.keyEncryption)) {
    problems.push('KEY_ENCRYPTION_SECRET and COOKIE_SECRETS: the same value is used for both: give each its own');
  }
  if (new Set(cookieKeys).size < cookieKeys.length) problems.push('COOKIE_SECRETS: the same value is listed twice');
  for (const [name, value] of Object.entries(settings.others ?? {})) {
    if (typeof value === 'string' && isPlaceholder(value)) problems.push(`${name}: still the sample placeholder: set the real value`);
  }
  return problems;
}

/** The settings holding credentials besides the two keys, by variable name, for the placeholder check. */
export function credentialSettings(config: {
  database?: { url?: unknown };
  redis?: { url?: unknown };
  dingtalk?: { clientId?: unknown; clientSecret?: unknown; eventToken?: unknown; eventAesKey?: unknown };
  metrics?: { token?: unknown };
}): Record<string, unknown> {
  return {
    DATABASE_URL: config.database?.url,
    REDIS_URL: config.redis?.url,
    DINGTALK_CLIENT_ID: config.dingtalk?.clientId,
    DINGTALK_CLIENT_SECRET: config.dingtalk?.clientSecret,
    DINGTALK_EVENT_TOKEN: config.dingtalk?.eventToken,
    DINGTALK_EVENT_AES_KEY: config.dingtalk?.eventAesKey,
    METRICS_TOKEN: config.metrics?.token,
  };
}
