/**
 * Every setting the product reads: its type, its default and a one-line doc. `load.ts` fills this
 * from config/default.json, config/<env>.json and the environment (DESIGN.md's contract table),
 * validates it and freezes it. Nothing else reads process.env.
 */
import { z } from 'zod';

const seconds = z.number().int().positive();
const url = z.url({ protocol: /^https?$/ });
/** One rate limit: at most `points` in `durationSeconds`; then refused for `blockSeconds` (default: the window's rest). */
const limit = z.object({
  points: z.number().int().positive(),
  durationSeconds: seconds,
  blockSeconds: z.number().int().min(0).optional(),
});

export const configSchema = z.object({
  /** `production` turns on the strict checks (NODE_ENV). */
  env: z.enum(['development', 'test', 'production']),
  /** Listen port (PORT). 0 picks a free one. */
  port: z.number().int().min(0).max(65535),
  /** Listen address. */
  host: z.string().min(1),
  /** Public issuer URL (ISSUER); default http://localhost:$PORT. No trailing slash, no query. */
  issuer: url,
  /**
   * Trust X-Forwarded-Proto/-For/-Host from a load balancer or TLS-terminating proxy (TRUST_PROXY).
   * Needed for Secure cookies behind TLS; set it only when a proxy always overwrites those headers.
   */
  trustProxy: z.boolean(),
  /** Worker processes sharing the port (WEB_CONCURRENCY); more than 1 needs DATABASE_URL and REDIS_URL. */
  webConcurrency: z.number().int().min(1).max(64),
  /** pino log level (LOG_LEVEL). */
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),

  database: z.object({
    /** postgres:// URL (DATABASE_URL); absent → embedded PostgreSQL under `embeddedDir`. */
    url: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must start with postgres://')
      .optional(),
    /** Data folder of the embedded PostgreSQL (development only). */
    embeddedDir: z.string().min(1),
    /** Port of the embedded PostgreSQL. */
    embeddedPort: z.number().int().min(1).max(65535),
    /** Connection pool size per process. */
    poolMax: z.number().int().min(1).max(200),
    /** Apply pending migrations at start (development default). */
    migrateOnStart: z.boolean(),
  }),

  redis: z.object({
    /** redis://, rediss://, redis-sentinel:// or redis-cluster:// URL (REDIS_URL); absent → memory. */
    url: z
      .string()
      .regex(/^rediss?(-sentinel|-cluster)?:\/\//, 'must be a redis:// URL')
      .optional(),
  }),

  dingtalk: z.object({
    /** The DingTalk app's Client ID / AppKey (DINGTALK_CLIENT_ID); absent → built-in emulator. */
    clientId: z.string().min(1).optional(),
    /** The DingTalk app's secret (DINGTALK_CLIENT_SECRET). */
    clientSecret: z.string().min(1).optional(),
    /** Only accept members of this organisation (DINGTALK_CORP_ID). */
    corpId: z.string().min(1).optional(),
    loginBaseUrl: url,
    apiBaseUrl: url,
    oapiBaseUrl: url,
    /** Event subscription signing token (DINGTALK_EVENT_TOKEN). */
    eventToken: z.string().min(1).optional(),
    /** Event subscription EncodingAESKey, 43 characters (DINGTALK_EVENT_AES_KEY). */
    eventAesKey: z.string().length(43).optional(),
    /**
     * How DingTalk's org events arrive (DINGTALK_EVENT_MODE): `stream`, a connection this server
     * opens to DingTalk (no public URL needed), or `http`, pushes to /dingtalk/events (needs the event
     * token and AES key). Default: `http` when the event token and key are set, else `stream`.
     */
    eventMode: z.enum(['http', 'stream']),
    /** Stream mode connection handling (times in milliseconds). */
    stream: z.object({
      /** First reconnect delay after a failure; doubled per failed attempt (with jitter) up to reconnectMaxMs. */
      reconnectBaseMs: z.number().int().min(1).max(60_000),
      reconnectMaxMs: z.number().int().min(1).max(600_000),
      /** Silence after which the connection is pinged. */
      idleMs: z.number().int().min(10).max(600_000),
      /** No pong (or any frame) this long after the ping: the connection is replaced. */
      pongTimeoutMs: z.number().int().min(10).max(120_000),
    }),
    /**
     * The scheduled directory sweep, in minutes: the whole organisation is read and compared with the
     * accounts (leavers disabled, changes copied); one replica at a time. 0: never. Production default
     * 60 (DINGTALK_SYNC_INTERVAL_MINUTES).
     */
    syncIntervalMinutes: z.number().int().min(0).max(10_080),
    /**
     * Who gets an account: `login` (default) — people when they first sign in; `directory` — also
     * everyone the sweep finds in the organisation, before their first sign-in (DINGTALK_PROVISION).
     */
    provision: z.enum(['login', 'directory']),
    /** Timeout of one DingTalk call, in milliseconds. */
    timeoutMs: z.number().int().min(100).max(60_000),
    /**
     * The DingTalk call budget shared by every replica and caller (src/dingtalk/call-budget.ts): calls
     * per second, kept below DingTalk's 20 per API per app and 10 000 per 20 s per egress address.
     */
    callBudget: z
      .object({
        /** Per API path per app (DingTalk: 20; keep headroom for jitter, §6.1). */
        perApiPerSecond: z.number().min(0.1).max(1000),
        /** Calls of one API that may go at once before the pace applies. */
        perApiBurst: z.number().int().min(1).max(100),
        /** Sweeps' and events' own pace per API; they also use only what sign-ins leave. */
        backgroundPerSecond: z.number().min(0.1).max(1000),
        /** All calls of this deployment from its egress address (DingTalk blocks at 10 000 in 20 s). */
        egressPerSecond: z.number().min(1).max(10_000),
        egressBurst: z.number().int().min(1).max(1000),
        /** How long a sign-in waits for DingTalk in the callback before the "please wait" page; ms. */
        signInCodeWaitMs: z.number().int().min(0).max(30_000),
        /**
         * How long the "please wait" page keeps retrying a sign-in before "DingTalk unavailable"; ms.
         * Below DingTalk's login code lifetime (undocumented; 5 minutes for JSAPI codes, §1.2).
         */
        signInQueueMs: z.number().int().min(0).max(240_000),
      })
      .refine((budget) => budget.backgroundPerSecond <= budget.perApiPerSecond, {
        message: 'backgroundPerSecond must not exceed perApiPerSecond',
      }),
    /** The built-in emulator (development without DingTalk credentials only). */
    emulator: z.object({
      /**
       * People generated beside the bundled organisation, in departments several levels deep, the
       * same for the same seed (DINGTALK_EMULATOR_ORG_SIZE, DINGTALK_EMULATOR_ORG_SEED); 0: none.
       */
      orgSize: z.number().int().min(0).max(200_000),
      orgSeed: z.number().int().min(0),
      /** DingTalk's call limits: 20 calls/s per API, 10 000 requests per 20 s per address (DINGTALK_EMULATOR_LIMITS). */
      limits: z.boolean(),
    }),
  }),

  login: z.object({
    /** Skip our login page and go straight to DingTalk (LOGIN_AUTO_REDIRECT). */
    autoRedirect: z.boolean(),
    /**
     * DingTalk's JSAPI script for free login inside the DingTalk client: one exact, versioned URL
     * (https in production; tests point it at the emulator's stand-in).
     */
    jsapiUrl: url,
    /**
     * Subresource Integrity of that script (DINGTALK_JSAPI_INTEGRITY), e.g. `sha384-…`: the browser
     * runs it only if its bytes match. Compute it from the file at jsapiUrl:
     * `curl -s URL | openssl dgst -sha384 -binary | openssl base64 -A`.
     */
    jsapiIntegrity: z
      .string()
      .regex(/^sha(256|384|512)-[A-Za-z0-9+/]+={0,2}$/, 'must be sha256-, sha384- or sha512- and a base64 digest')
      .optional(),
    /**
     * Domain for a made-up `email` (`<userid>@<domain>`, never verified) when DingTalk gives none,
     * so apps that require an email keep working (EMAIL_FALLBACK_DOMAIN).
     */
    emailFallbackDomain: z
      .string()
      .regex(/^[a-z0-9.-]+\.[a-z]{2,}$/i, 'must be a domain name')
      .optional(),
  }),

  /** JSON file with an array of client metadata loaded at start (CLIENTS_FILE). */
  clientsFile: z.string().min(1).optional(),
  /** DingTalk userids / unionIds that always get the `admin` role (ADMIN_DINGTALK_USERIDS). */
  adminDingtalkUserids: z.array(z.string().min(1)),

  secrets: z.object({
    /**
     * Encrypts the private parts of signing keys and client secrets at rest (KEY_ENCRYPTION_SECRET);
     * at least 32 characters.
     */
    keyEncryption: z.string().min(32),
    /** Cookie signing keys, newest first, comma-separated (COOKIE_SECRETS); each ≥ 32 characters. */
    cookieKeys: z.array(z.string().min(32)).min(1),
  }),

  oidc: z.object({
    /** Lifetimes, in seconds. */
    ttl: z.object({
      accessToken: seconds,
      clientCredentials: seconds,
      authorizationCode: seconds,
      idToken: seconds,
      refreshToken: seconds,
      interaction: seconds,
      session: seconds,
      grant: seconds,
      pushedAuthorizationRequest: seconds,
      backchannelLogoutToken: seconds.optional(),
    }),
    /**
     * Logging out (RP-initiated) also revokes offline grants (refresh tokens asked for with
     * offline_access), which oidc-provider otherwise keeps (LOGOUT_REVOKES_OFFLINE_GRANTS).
     */
    logoutRevokesOfflineGrants: z.boolean(),
    /** Signing algorithm of new keys and of ID tokens by default. */
    signingAlg: z.enum(['RS256', 'ES256']),
    /** How long a client read from Postgres is cached in each process, in milliseconds. */
    clientCacheMs: z.number().int().min(0).max(3_600_000),
    /**
     * How long an account and its roles are kept in each process for userinfo and refresh, in
     * milliseconds; every change drops the copy at once on every replica (0: no copy).
     */
    accountCacheMs: z.number().int().min(0).max(60_000),
    /** How long the signing keys are cached before re-reading Postgres, in milliseconds. */
    keyCacheMs: z.number().int().min(0).max(3_600_000),
    /**
     * How long a rotated key is only published before it signs, in milliseconds; longer than
     * keyCacheMs, so every replica's /jwks lists a key before any replica signs with it.
     */
    keyActivationDelayMs: z.number().int().min(0).max(86_400_000),
  }),

  /** Development: create a demo client and print its credentials at start. */
  demoClient: z.boolean(),

  /**
   * Abuse limits (http/middleware/rate-limit.ts). They aim at failures and floods, not at busy
   * services: successful token and introspection calls only meet the generous `tokenFlood`.
   * Counters live in Redis (shared by replicas), in memory without REDIS_URL or while Redis is down.
   */
  rateLimits: z.object({
    /** Off only for tests of other features, or behind a gateway that already limits. */
    enabled: z.boolean(),
    /** Every POST to /token, /token/introspection, /token/revocation, /request per IP, counted in each process. */
    tokenFlood: limit,
    /** Failed client authentications at those endpoints per IP: an alarm (logged), never refused. */
    tokenFailuresPerIp: limit,
    /** The same failures per client id from all addresses (a distributed guess): an alarm, never refused. */
    tokenFailuresPerClient: limit,
    /**
     * The same failures per client id and IP: past it, that client id from that IP only is refused
     * for `blockSeconds`. `invalid_grant` is never counted here (apps send stale tokens).
     */
    tokenFailuresPerClientIp: limit,
    /** Browser routes per browser (its `_dt_browser` cookie): /auth, /interaction/…, /session/end. */
    browser: limit,
    /** GET /dingtalk/callback per browser (the sign-in wait page retries it). */
    dingtalkCallback: limit,
    /**
     * All of those per address, whatever cookie they carry: high, because a whole office signs in
     * from one NAT address; it stops floods from one address.
     */
    browserPerAddress: limit,
    /** POST /dingtalk/events per IP (DingTalk's servers). */
    dingtalkEvents: limit,
    /** The admin console's login per IP. */
    adminLogin: limit,
  }),

  metrics: z.object({
    /** Serve /metrics and measure requests. */
    enabled: z.boolean(),
    /** When set, /metrics requires `Authorization: Bearer <token>` (METRICS_TOKEN); ≥ 16 characters. */
    token: z.string().min(16).optional(),
    /**
     * Serve /metrics on this port only, on its own listener (METRICS_PORT), and not on PORT: keep it
     * off the public load balancer. Production needs this or METRICS_TOKEN.
     */
    port: z.number().int().min(0).max(65535).optional(),
  }),

  /**
   * How long a /readyz answer is reused, in milliseconds: a flood of probes then costs PostgreSQL
   * and Redis at most one round of checks per this interval per process (0: every probe checks).
   */
  readinessCacheMs: z.number().int().min(0).max(60_000),

  /**
   * oidc-provider's outgoing requests to apps (back-channel logout, client jwks_uri), oidc/outbound.ts.
   */
  outbound: z.object({
    /** Refuse loopback, private, link-local, metadata and other special-use destinations (on in production). */
    blockPrivate: z.boolean(),
    /**
     * Internal apps that may be reached even so (OUTBOUND_ALLOWED_HOSTS): host names, `.domain`
     * suffixes, IP addresses or CIDR ranges, comma-separated.
     */
    allowedHosts: z.array(z.string().min(1)),
  }),

  /** Header carrying the request id: a valid incoming one is kept, otherwise one is made; always echoed. */
  requestIdHeader: z.string().regex(/^[A-Za-z][A-Za-z0-9-]*$/, 'must be an HTTP header name'),
});

export type Config = z.infer<typeof configSchema>;

/** Development-only placeholders shipped in config/default.json; production refuses them. */
export const INSECURE_DEFAULT_MARK = 'insecure-development-only';

/** Environment variables of DESIGN.md's contract (and a few more), each mapped to a config path. */
export const ENV_VARS = {
  NODE_ENV: 'env',
  PORT: 'port',
  HOST: 'host',
  ISSUER: 'issuer',
  LOG_LEVEL: 'logLevel',
  WEB_CONCURRENCY: 'webConcurrency',
  TRUST_PROXY: 'trustProxy',
  DATABASE_URL: 'database.url',
  DATABASE_POOL_MAX: 'database.poolMax',
  REDIS_URL: 'redis.url',
  DINGTALK_CLIENT_ID: 'dingtalk.clientId',
  DINGTALK_CLIENT_SECRET: 'dingtalk.clientSecret',
  DINGTALK_CORP_ID: 'dingtalk.corpId',
  DINGTALK_LOGIN_BASE_URL: 'dingtalk.loginBaseUrl',
  DINGTALK_API_BASE_URL: 'dingtalk.apiBaseUrl',
  DINGTALK_OAPI_BASE_URL: 'dingtalk.oapiBaseUrl',
  DINGTALK_EVENT_TOKEN: 'dingtalk.eventToken',
  DINGTALK_EVENT_AES_KEY: 'dingtalk.eventAesKey',
  DINGTALK_EVENT_MODE: 'dingtalk.eventMode',
  DINGTALK_TIMEOUT_MS: 'dingtalk.timeoutMs',
  DINGTALK_SYNC_INTERVAL_MINUTES: 'dingtalk.syncIntervalMinutes',
  DINGTALK_EMULATOR_ORG_SIZE: 'dingtalk.emulator.orgSize',
  DINGTALK_EMULATOR_ORG_SEED: 'dingtalk.emulator.orgSeed',
  DINGTALK_EMULATOR_LIMITS: 'dingtalk.emulator.limits',
  DINGTALK_PROVISION: 'dingtalk.provision',
  CLIENTS_FILE: 'clientsFile',
  ADMIN_DINGTALK_USERIDS: 'adminDingtalkUserids',
  KEY_ENCRYPTION_SECRET: 'secrets.keyEncryption',
  LOGIN_AUTO_REDIRECT: 'login.autoRedirect',
  LOGOUT_REVOKES_OFFLINE_GRANTS: 'oidc.logoutRevokesOfflineGrants',
  EMAIL_FALLBACK_DOMAIN: 'login.emailFallbackDomain',
  COOKIE_SECRETS: 'secrets.cookieKeys',
  METRICS_TOKEN: 'metrics.token',
  METRICS_PORT: 'metrics.port',
  OUTBOUND_ALLOWED_HOSTS: 'outbound.allowedHosts',
  DINGTALK_JSAPI_INTEGRITY: 'login.jsapiIntegrity',
} as const satisfies Record<string, string>;

export type EnvVarName = keyof typeof ENV_VARS;

/** Settings given as comma lists in the environment. */
export const LIST_PATHS = new Set(['adminDingtalkUserids', 'secrets.cookieKeys', 'outbound.allowedHosts']);
