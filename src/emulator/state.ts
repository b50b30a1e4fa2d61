import { createHash, randomBytes } from 'node:crypto';
import { parseSeed, seedUserSchema, type EmulatorSeed, type SeedDepartment, type SeedUser, type SeedUserInput } from './seed.js';

/**
 * A failure to inject on the next request(s) to a path. On api.dingtalk.com paths and on
 * oapi.dingtalk.com paths each kind takes the shape that host really uses.
 */
export type EmulatorFault =
  /** oapi errcode -1 "系统繁忙"; api HTTP 503 `ServiceUnavailable`. */
  | 'busy'
  /** oapi errcode 15 (`isp.top-remote-connection-timeout`); api HTTP 504. */
  | 'timeout'
  /** HTTP 500: JSON error on api, an HTML gateway page on oapi. */
  | 'server-error'
  /** oapi errcode 90018; api 403 `Forbidden.AccessDenied.QpsLimitForAppkeyAndApi`. */
  | 'throttle'
  /** oapi 88 / sub_code "40014"; api 400 `InvalidAuthentication` — whatever token was sent. */
  | 'invalid-token'
  /** The connection is destroyed without an answer. */
  | 'reset'
  /** HTTP 200 with an HTML page (what an IP ban or a captive proxy returns). */
  | 'malformed'
  | { kind: 'server-error'; status: number }
  /** Answer normally, but only after `ms` (to trigger client timeouts). */
  | { kind: 'delay'; ms: number }
  /** Answer with exactly this status and JSON body. */
  | { kind: 'respond'; status: number; body: unknown };

/** A person known to the emulator (a seed user plus the per-app openid). */
export type EmulatorUser = SeedUser & { openid: string };

/** One request the emulator served. */
export interface EmulatorCall {
  method: string;
  path: string;
  at: number;
}

interface AuthCodeRecord {
  unionid: string;
  clientId: string;
  scope: string[];
  expiresAt: number;
  used: boolean;
}

interface FreeLoginCodeRecord {
  userid: string;
  expiresAt: number;
  used: boolean;
}

/** An issued token: an app token (oapi + api) or a user token (api, for the user it was issued to). */
export type TokenRecord = { type: 'app'; expiresAt: number } | { type: 'user'; unionid: string; corpId?: string; expiresAt: number };

/**
 * A change of the organisation's directory, as DingTalk announces it to event subscribers (§5.1,
 * §10.3): the event type and the userids or department ids concerned.
 */
export interface DirectoryChange {
  type: 'user_add_org' | 'user_modify_org' | 'user_leave_org' | 'org_dept_create' | 'org_dept_modify' | 'org_dept_remove';
  userIds?: string[];
  deptIds?: number[];
}

/** Outcome of consuming a single-use code. */
export type CodeOutcome<T> = { ok: true; value: T } | { ok: false; reason: 'unknown' | 'used' | 'expired' };

/** Settings of {@link EmulatorState}; see `EmulatorOptions`. */
export interface EmulatorStateOptions {
  seed: EmulatorSeed;
  clientId: string;
  clientSecret: string;
  corpId: string;
  redirectUris?: readonly string[];
  permissions?: readonly string[];
  qpsLimit?: number | false;
  authCodeTtlMs?: number;
  freeLoginCodeTtlMs?: number;
  tokenTtlSeconds?: number;
}

/** Delegated permissions granted by default: enough for users/me with mobile. */
export const DEFAULT_PERMISSIONS: readonly string[] = ['Contact.User.Read', 'Contact.User.mobile'];

/**
 * The emulator's mutable world: the organisation, issued codes and tokens, injected faults, QPS
 * counters and a log of calls. Tests reach it through `emulator.state` to inspect and steer the fake
 * DingTalk (someone leaves, a profile changes, the next call fails, time passes).
 */
export class EmulatorState {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly corpId: string;
  readonly corpName: string;
  /** Registered redirect URIs; empty = accept any http(s) URI. */
  readonly redirectUris: readonly string[];
  readonly authCodeTtlMs: number;
  readonly freeLoginCodeTtlMs: number;
  readonly tokenTtlSeconds: number;
  /** Every request served, oldest first. */
  readonly calls: EmulatorCall[] = [];

  #qpsLimit: number | false;
  #permissions: Set<string>;
  #clockOffsetMs = 0;
  readonly #users = new Map<string, EmulatorUser>(); // by unionid
  readonly #departments = new Map<number, SeedDepartment>();
  readonly #authCodes = new Map<string, AuthCodeRecord>();
  readonly #freeLoginCodes = new Map<string, FreeLoginCodeRecord>();
  readonly #tokens = new Map<string, TokenRecord>();
  readonly #refreshTokens = new Map<string, { unionid: string; corpId?: string; expiresAt: number }>();
  readonly #faults = new Map<string, EmulatorFault[]>();
  readonly #qpsWindows = new Map<string, { second: number; count: number }>();
  #appToken: string | undefined;
  readonly #directoryListeners = new Set<(change: DirectoryChange) => void>();

  constructor(options: EmulatorStateOptions) {
    const seed = parseSeed(options.seed);
    this.clientId = options.clientId;
    this.clientSecret = options.clientSecret;
    this.corpId = options.corpId;
    this.corpName = seed.corp.name;
    this.redirectUris = options.redirectUris ?? [];
    this.authCodeTtlMs = options.authCodeTtlMs ?? 5 * 60 * 1000;
    this.freeLoginCodeTtlMs = options.freeLoginCodeTtlMs ?? 5 * 60 * 1000;
    this.tokenTtlSeconds = options.tokenTtlSeconds ?? 7200;
    this.#qpsLimit = options.qpsLimit ?? 20;
    this.#permissions = new Set(options.permissions ?? DEFAULT_PERMISSIONS);
    for (const department of seed.departments) this.#departments.set(department.dept_id, department);
    for (const user of seed.users) this.#users.set(user.unionid, this.#withOpenId(user));
  }

  // --- clock --------------------------------------------------------------------------------

  /** The emulator's clock: real time plus whatever {@link advanceTime} added. */
  now(): number {
    return Date.now() + this.#clockOffsetMs;
  }

  /** Moves the emulator's clock forward (codes and tokens expire; QPS windows roll). */
  advanceTime(ms: number): void {
    this.#clockOffsetMs += ms;
  }

  // --- people and departments ---------------------------------------------------------------

  /** Everyone who can sign in to DingTalk, in seed order (members, leavers, outsiders). */
  users(): EmulatorUser[] {
    return [...this.#users.values()];
  }

  /** Anyone with this unionId (member or not). */
  findByUnionId(unionid: string): EmulatorUser | undefined {
    return this.#users.get(unionid);
  }

  /** A current member of the organisation by userid. */
  findMember(userid: string): EmulatorUser | undefined {
    return this.users().find((user) => user.status === 'member' && user.userid === userid);
  }

  /** A current member by unionId. */
  findMemberByUnionId(unionid: string): EmulatorUser | undefined {
    const user = this.#users.get(unionid);
    return user?.status === 'member' ? user : undefined;
  }

  department(deptId: number): SeedDepartment | undefined {
    return this.#departments.get(deptId);
  }

  /** Adds or replaces a department (announced as `org_dept_create` / `org_dept_modify`). */
  setDepartment(department: SeedDepartment): void {
    const known = this.#departments.has(department.dept_id);
    this.#departments.set(department.dept_id, department);
    this.#announce({ type: known ? 'org_dept_modify' : 'org_dept_create', deptIds: [department.dept_id] });
  }

  /** Removes a department (announced as `org_dept_remove`). */
  removeDepartment(deptId: number): void {
    if (this.#departments.delete(deptId)) this.#announce({ type: 'org_dept_remove', deptIds: [deptId] });
  }

  /** Adds a person (validated like a seed entry) and returns them; a member is announced as `user_add_org`. */
  addUser(input: SeedUserInput): EmulatorUser {
    const user = this.#withOpenId(seedUserSchema.parse(input));
    this.#users.set(user.unionid, user);
    if (user.status === 'member' && user.userid !== undefined) this.#announce({ type: 'user_add_org', userIds: [user.userid] });
    return user;
  }

  /**
   * Calls `listener` on every directory change (a person joins, changes or leaves; a department is
   * created, changed or removed): the emulator's event subscriptions push them. Returns the unsubscribe.
   */
  onDirectoryChange(listener: (change: DirectoryChange) => void): () => void {
    this.#directoryListeners.add(listener);
    return () => this.#directoryListeners.delete(listener);
  }

  #announce(change: DirectoryChange): void {
    for (const listener of this.#directoryListeners) listener(change);
  }

  /**
   * The person leaves the organisation: gone from the directory (60121), still able to sign in to
   * DingTalk with their personal account. Announced as `user_leave_org` (pushed over Stream by
   * itself; over HTTP, push it with `pushEvent`).
   */
  markLeft(userid: string): void {
    this.#requireByUserid(userid).status = 'left';
    this.#announce({ type: 'user_leave_org', userIds: [userid] });
  }

  /** The person (re)joins the organisation (announced as `user_add_org`). */
  markMember(userid: string): void {
    this.#requireByUserid(userid).status = 'member';
    this.#announce({ type: 'user_add_org', userIds: [userid] });
  }

  /** Changes fields of a person found by userid or unionId (a member's change is announced as `user_modify_org`). */
  setProfile(id: string, patch: Partial<Omit<SeedUser, 'unionid'>>): EmulatorUser {
    const user = this.#users.get(id) ?? this.#requireByUserid(id);
    Object.assign(user, patch);
    if (user.status === 'member' && user.userid !== undefined) this.#announce({ type: 'user_modify_org', userIds: [user.userid] });
    return user;
  }

  // --- permissions and limits -----------------------------------------------------------------

  /** Replaces the app's delegated permissions (e.g. `[]` to make users/me answer 403). */
  setPermissions(permissions: readonly string[]): void {
    this.#permissions = new Set(permissions);
  }

  hasPermission(permission: string): boolean {
    return this.#permissions.has(permission);
  }

  /** Per-app per-API calls per second; `false` turns throttling off. */
  setQpsLimit(limit: number | false): void {
    this.#qpsLimit = limit;
    this.#qpsWindows.clear();
  }

  /** Counts a call against `api`'s 1-second window; false when it is over the limit. */
  admitCall(api: string): boolean {
    if (this.#qpsLimit === false) return true;
    const second = Math.floor(this.now() / 1000);
    const window = this.#qpsWindows.get(api);
    if (window === undefined || window.second !== second) {
      this.#qpsWindows.set(api, { second, count: 1 });
      return true;
    }
    window.count += 1;
    return window.count <= this.#qpsLimit;
  }

  // --- faults ----------------------------------------------------------------------------------

  /** The next `times` requests to `path` (exact, without query) fail with `fault`. */
  failNext(path: string, fault: EmulatorFault, times = 1): void {
    const queue = this.#faults.get(path) ?? [];
    for (let i = 0; i < times; i += 1) queue.push(fault);
    this.#faults.set(path, queue);
  }

  /** Removes and returns the next fault queued for `path`. */
  takeFault(path: string): EmulatorFault | undefined {
    const queue = this.#faults.get(path);
    const fault = queue?.shift();
    if (queue?.length === 0) this.#faults.delete(path);
    return fault;
  }

  /** Drops all queued faults. */
  clearFaults(): void {
    this.#faults.clear();
  }

  // --- calls -----------------------------------------------------------------------------------

  record(method: string, path: string): void {
    this.calls.push({ method, path, at: this.now() });
  }

  /** How many requests `path` received (optionally only with `method`). */
  countCalls(path: string, method?: string): number {
    return this.calls.filter((call) => call.path === path && (method === undefined || call.method === method)).length;
  }

  resetCalls(): void {
    this.calls.length = 0;
  }

  // --- codes -----------------------------------------------------------------------------------

  /**
   * Issues a login `authCode` as if the person had picked themselves on the login page — for
   * tests that skip the HTML step.
   */
  issueAuthCode(params: { unionid: string; scope?: string; clientId?: string }): string {
    if (!this.#users.has(params.unionid)) throw new Error(`emulator: no user with unionid ${params.unionid}`);
    const code = randomToken(16);
    this.#authCodes.set(code, {
      unionid: params.unionid,
      clientId: params.clientId ?? this.clientId,
      scope: (params.scope ?? 'openid').split(/\s+/).filter(Boolean),
      expiresAt: this.now() + this.authCodeTtlMs,
      used: false,
    });
    return code;
  }

  /** Consumes a login code (single use, short-lived). */
  consumeAuthCode(code: string): CodeOutcome<AuthCodeRecord> {
    return consume(this.#authCodes.get(code), this.now());
  }

  /** Issues an in-client free-login code for a member (what `dd.requestAuthCode` would return). */
  issueFreeLoginCode(userid: string): string {
    if (this.findMember(userid) === undefined) throw new Error(`emulator: no member with userid ${userid}`);
    const code = randomToken(16);
    this.#freeLoginCodes.set(code, { userid, expiresAt: this.now() + this.freeLoginCodeTtlMs, used: false });
    return code;
  }

  consumeFreeLoginCode(code: string): CodeOutcome<FreeLoginCodeRecord> {
    return consume(this.#freeLoginCodes.get(code), this.now());
  }

  // --- tokens ----------------------------------------------------------------------------------

  /**
   * The app token. As DingTalk does, a request inside the validity window returns the same token
   * and extends it; after expiry a new one is minted.
   */
  issueAppToken(): { token: string; expiresIn: number } {
    const current = this.#appToken === undefined ? undefined : this.#tokens.get(this.#appToken);
    if (this.#appToken === undefined || current === undefined || current.expiresAt <= this.now()) {
      this.#appToken = randomToken(16);
    }
    this.#tokens.set(this.#appToken, { type: 'app', expiresAt: this.now() + this.tokenTtlSeconds * 1000 });
    return { token: this.#appToken, expiresIn: this.tokenTtlSeconds };
  }

  /** A user token plus refresh token for `unionid`. */
  issueUserToken(unionid: string, corpId?: string): { accessToken: string; refreshToken: string; expireIn: number } {
    const accessToken = randomToken(16);
    const refreshToken = randomToken(16);
    const expiresAt = this.now() + this.tokenTtlSeconds * 1000;
    const record: TokenRecord = { type: 'user', unionid, expiresAt };
    if (corpId !== undefined) record.corpId = corpId;
    this.#tokens.set(accessToken, record);
    const refresh = { unionid, expiresAt: this.now() + 30 * 24 * 3600 * 1000 };
    this.#refreshTokens.set(refreshToken, corpId === undefined ? refresh : { ...refresh, corpId });
    return { accessToken, refreshToken, expireIn: this.tokenTtlSeconds };
  }

  /** Consumes a refresh token (rotated on use). */
  consumeRefreshToken(refreshToken: string): { unionid: string; corpId?: string } | undefined {
    const record = this.#refreshTokens.get(refreshToken);
    this.#refreshTokens.delete(refreshToken);
    return record !== undefined && record.expiresAt > this.now() ? record : undefined;
  }

  /** `valid`, `expired` (known but past its life) or `unknown`. */
  checkToken(token: string): { status: 'valid'; record: TokenRecord } | { status: 'expired' | 'unknown' } {
    const record = this.#tokens.get(token);
    if (record === undefined) return { status: 'unknown' };
    if (record.expiresAt <= this.now()) return { status: 'expired' };
    return { status: 'valid', record };
  }

  /** Expires every app token now (the next oapi call gets 42001). */
  expireAppTokens(): void {
    for (const record of this.#tokens.values()) if (record.type === 'app') record.expiresAt = this.now();
  }

  /** Expires every user token now. */
  expireUserTokens(): void {
    for (const record of this.#tokens.values()) if (record.type === 'user') record.expiresAt = this.now();
  }

  /** Forgets a token entirely (the next use gets "invalid", as after an app secret reset). */
  revokeToken(token: string): void {
    this.#tokens.delete(token);
    if (this.#appToken === token) this.#appToken = undefined;
  }

  // --- helpers ---------------------------------------------------------------------------------

  /** The per-app openId: stable for (app, person), different across apps, as on DingTalk. */
  openIdFor(unionid: string): string {
    return createHash('sha256').update(`${this.clientId}:${unionid}`).digest('base64url').slice(0, 22) + 'iEiE';
  }

  #withOpenId(user: SeedUser): EmulatorUser {
    return { ...user, openid: user.openid ?? this.openIdFor(user.unionid) };
  }

  #requireByUserid(userid: string): EmulatorUser {
    const user = this.users().find((candidate) => candidate.userid === userid);
    if (user === undefined) throw new Error(`emulator: no user with userid ${userid}`);
    return user;
  }
}

function consume<T extends { expiresAt: number; used: boolean }>(record: T | undefined, now: number): CodeOutcome<T> {
  if (record === undefined) return { ok: false, reason: 'unknown' };
  if (record.used) return { ok: false, reason: 'used' };
  record.used = true;
  if (record.expiresAt <= now) return { ok: false, reason: 'expired' };
  return { ok: true, value: record };
}

function randomToken(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}
