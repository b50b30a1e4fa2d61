/**
 * Builds the one Config object: config/default.json, then config/<env>.json, then the
 * environment variables of DESIGN.md's contract. Every problem is collected and reported at once
 * (each naming its variable), then the result is frozen. Secret *names* are reported, never values.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors/app-error.js';
import { allowListProblem } from './address-list.js';
import { credentialSettings, secretProblems } from './secret-strength.js';
import { type Config, configSchema, ENV_VARS, type EnvVarName, INSECURE_DEFAULT_MARK, LIST_PATHS } from './schema.js';

export const CONFIG_DIR = path.resolve(import.meta.dirname, '../../config');
// From dist/src/config the folder is one level further up.
const configDir = (): string => (existsSync(CONFIG_DIR) ? CONFIG_DIR : path.resolve(import.meta.dirname, '../../../config'));

/** Where `npm start` serves the DingTalk emulator when no DingTalk app is configured. */
export const EMULATOR_PATH = '/dingtalk-emulator';

/** DingTalk's CDN, where the JSAPI script is pinned (config/default.json `login.jsapiUrl`). */
const DINGTALK_CDN = 'https://g.alicdn.com';

const NUMERIC_PATHS = new Set([
  'port',
  'metrics.port',
  'database.poolMax',
  'dingtalk.timeoutMs',
  'webConcurrency',
  'dingtalk.syncIntervalMinutes',
  'dingtalk.emulator.orgSize',
  'dingtalk.emulator.orgSeed',
]);
const BOOLEAN_PATHS = new Set(['login.autoRedirect', 'trustProxy', 'oidc.logoutRevokesOfflineGrants', 'dingtalk.emulator.limits']);
const ENVS = ['development', 'test', 'production'] as const;

type Json = Record<string, unknown>;

export interface LoadOptions {
  /** Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Folder of default.json / <env>.json. */
  dir?: string;
  /** Applied last, for tests (`testConfig`). */
  overrides?: DeepPartial<Config>;
}

export type DeepPartial<T> = T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

/** Load, validate and freeze the configuration; throws ConfigError listing every problem. */
export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const dir = options.dir ?? configDir();
  const problems: string[] = [];

  const envName = env.NODE_ENV?.trim() || 'development';
  if (!(ENVS as readonly string[]).includes(envName)) {
    problems.push(`NODE_ENV: must be one of ${ENVS.join(', ')} (got "${envName}")`);
  }
  const fileEnv = (ENVS as readonly string[]).includes(envName) ? envName : 'development';

  let raw: Json = {};
  for (const file of ['default.json', `${fileEnv}.json`]) {
    const full = path.join(dir, file);
    if (!existsSync(full)) continue;
    try {
      raw = merge(raw, JSON.parse(readFileSync(full, 'utf8')) as Json);
    } catch (error) {
      problems.push(`config/${file}: not valid JSON (${(error as Error).message})`);
    }
  }
  raw.env = fileEnv;

  for (const [name, configPath] of Object.entries(ENV_VARS) as [EnvVarName, string][]) {
    const value = env[name];
    if (value === undefined || value.trim() === '' || name === 'NODE_ENV') continue;
    setPath(raw, configPath, fromEnv(configPath, value.trim()));
  }
  if (options.overrides) raw = merge(raw, options.overrides);
  if (raw.issuer === undefined) raw.issuer = `http://localhost:${typeof raw.port === 'number' ? raw.port : 3000}`;
  const dingtalk = isPlainObject(raw.dingtalk) ? raw.dingtalk : (raw.dingtalk = {});
  // HTTP pushes when they can be verified; otherwise the Stream connection, which needs no public URL.
  dingtalk.eventMode ??= dingtalk.eventToken && dingtalk.eventAesKey ? 'http' : 'stream';
  // Without DingTalk credentials (development), the emulator also stands in for DingTalk's JSAPI
  // script, at the same path under EMULATOR_PATH: free login then works offline (with DINGTALK_CORP_ID).
  const login = isPlainObject(raw.login) ? raw.login : (raw.login = {});
  if (raw.env !== 'production' && !dingtalk.clientId && typeof login.jsapiUrl === 'string' && login.jsapiUrl.startsWith(DINGTALK_CDN)) {
    login.jsapiUrl = `${String(raw.issuer)}${EMULATOR_PATH}${login.jsapiUrl.slice(DINGTALK_CDN.length)}`;
  }

  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      problems.push(`${describePath(issue.path.join('.'))}: ${issue.message}`);
    }
  }
  // Cross-setting and production rules run even when the schema failed, so one run lists all.
  for (const problem of checkConsistency(raw)) {
    if (!problems.includes(problem)) problems.push(problem);
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  return deepFreeze(parsed.data);
}

/**
 * Rules that span several settings, and production's refusals. Written against a possibly
 * invalid configuration (every field may be missing or of the wrong type), so they can run beside
 * the schema's own checks.
 */
export function checkConsistency(config: DeepPartial<Config>): string[] {
  const problems: string[] = [];
  const issuer = typeof config.issuer === 'string' && URL.canParse(config.issuer) ? new URL(config.issuer) : undefined;
  if (issuer && (config.issuer!.endsWith('/') || issuer.search || issuer.hash)) {
    problems.push('ISSUER: must have no trailing slash, query or fragment');
  }
  const dt = config.dingtalk ?? {};
  if (Boolean(dt.clientId) !== Boolean(dt.clientSecret)) {
    problems.push('DINGTALK_CLIENT_ID and DINGTALK_CLIENT_SECRET: set both or neither');
  }
  if (Boolean(dt.eventToken) !== Boolean(dt.eventAesKey)) {
    problems.push('DINGTALK_EVENT_TOKEN and DINGTALK_EVENT_AES_KEY: set both or neither');
  }
  if ((config.webConcurrency ?? 1) > 1 && (!config.database?.url || !config.redis?.url)) {
    problems.push('WEB_CONCURRENCY: more than 1 worker needs DATABASE_URL and REDIS_URL (workers share nothing else)');
  }
  const allowed = config.outbound?.allowedHosts;
  const allowProblem = Array.isArray(allowed) ? allowListProblem(allowed.map(String)) : undefined;
  if (allowProblem) problems.push(`OUTBOUND_ALLOWED_HOSTS: ${allowProblem}`);
  if (config.env !== 'production') return problems;

  if (!config.database?.url) {
    problems.push('DATABASE_URL: required in production (the embedded database is for development)');
  }
  if (!config.redis?.url) {
    problems.push('REDIS_URL: required in production (in-memory stores are for development)');
  }
  if (!dt.clientId) {
    problems.push('DINGTALK_CLIENT_ID, DINGTALK_CLIENT_SECRET: required in production (the DingTalk emulator is for development)');
  }
  if (dt.clientId && !dt.corpId) {
    // Without it the membership check, free login, events, departments and titles are off, and any
    // DingTalk account could sign in to every app without an access policy.
    problems.push(
      "DINGTALK_CORP_ID: required in production with DingTalk credentials (your organisation's CorpId; without it any DingTalk user could sign in)",
    );
  }
  for (const [name, value] of [
    ['DINGTALK_LOGIN_BASE_URL', dt.loginBaseUrl],
    ['DINGTALK_API_BASE_URL', dt.apiBaseUrl],
    ['DINGTALK_OAPI_BASE_URL', dt.oapiBaseUrl],
  ] as const) {
    if (typeof value === 'string' && !value.startsWith('https:')) problems.push(`${name}: must be https in production`);
  }
  const jsapiUrl = (config.login as Json | undefined)?.jsapiUrl;
  if (typeof jsapiUrl === 'string' && !jsapiUrl.startsWith('https:')) problems.push('login.jsapiUrl: must be https in production');
  if (issuer && issuer.protocol !== 'https:' && !isLoopback(issuer.hostname)) {
    problems.push('ISSUER: must be https in production (http is allowed only for localhost)');
  }
  if (issuer?.protocol === 'https:' && config.trustProxy !== true) {
    // The server speaks plain HTTP: https reaches it through a proxy, which it must trust to know
    // the request was secure (Secure cookies, https redirects).
    problems.push('TRUST_PROXY: must be true with an https ISSUER (TLS is terminated by your load balancer or proxy)');
  }
  const secrets = config.secrets ?? {};
  if (typeof secrets.keyEncryption === 'string' && secrets.keyEncryption.includes(INSECURE_DEFAULT_MARK)) {
    problems.push('KEY_ENCRYPTION_SECRET: required in production (32 or more random characters)');
  }
  if (Array.isArray(secrets.cookieKeys) && secrets.cookieKeys.some((key) => String(key).includes(INSECURE_DEFAULT_MARK))) {
    problems.push('COOKIE_SECRETS: required in production (comma list, 32 or more random characters each)');
  }
  if (config.demoClient) problems.push('demoClient: must be false in production');
  // Security review, issue #14: weak or reused secrets, and metrics open to whoever reaches PORT.
  const ownValue = (value: unknown) => typeof value === 'string' && !value.includes(INSECURE_DEFAULT_MARK);
  problems.push(
    ...secretProblems({
      keyEncryption: ownValue(secrets.keyEncryption) ? secrets.keyEncryption : undefined,
      cookieKeys: Array.isArray(secrets.cookieKeys) ? secrets.cookieKeys.filter(ownValue) : undefined,
      others: credentialSettings(config),
    }),
  );
  if (config.metrics?.enabled !== false && !config.metrics?.token && config.metrics?.port === undefined) {
    problems.push('METRICS_TOKEN or METRICS_PORT: set one in production, so /metrics is not open to everyone who reaches PORT');
  }
  const httpEvents = dt.eventMode === 'http' && Boolean(dt.eventToken) && Boolean(dt.eventAesKey);
  if (dt.clientId && dt.eventMode !== 'stream' && !httpEvents && !((dt.syncIntervalMinutes ?? 0) > 0)) {
    // Without one, a person who leaves the organisation keeps their sessions and can open new apps.
    problems.push(
      'DINGTALK_EVENT_MODE: production needs a way to learn who left DingTalk: DINGTALK_EVENT_MODE=stream (no public URL needed), ' +
        'or http with DINGTALK_EVENT_TOKEN and DINGTALK_EVENT_AES_KEY, or DINGTALK_SYNC_INTERVAL_MINUTES above 0',
    );
  }
  return problems;
}

/** True when the DingTalk emulator stands in for DingTalk (no credentials, not production). */
export function usesEmulator(config: Config): boolean {
  return !config.dingtalk.clientId && config.env !== 'production';
}

export function isLoopback(hostname: string): boolean {
  return ['localhost', '127.0.0.1', '[::1]', '::1'].includes(hostname) || hostname.endsWith('.localhost');
}

function fromEnv(configPath: string, value: string): unknown {
  if (LIST_PATHS.has(configPath)) {
    return value
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);
  }
  if (NUMERIC_PATHS.has(configPath) && /^\d+$/.test(value)) return Number(value);
  if (BOOLEAN_PATHS.has(configPath) && /^(true|false|1|0)$/i.test(value)) return /^(true|1)$/i.test(value);
  return value;
}

function describePath(configPath: string): string {
  // Report a setting by the variable a user would set; a nested issue names its closest parent.
  for (const [name, mapped] of Object.entries(ENV_VARS)) {
    if (configPath === mapped || configPath.startsWith(`${mapped}.`)) return `${name} (${configPath})`;
  }
  return configPath || 'config';
}

function setPath(target: Json, dotted: string, value: unknown): void {
  const keys = dotted.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Json;
  }
  node[keys.at(-1)!] = value;
}

function merge(base: Json, extra: Json): Json {
  const out: Json = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const current = out[key];
    out[key] = isPlainObject(value) && isPlainObject(current) ? merge(current, value) : value;
  }
  return out;
}

function isPlainObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
