import { Credentials, type AuthCodeRecord, type CodeOutcome, type FreeLoginCodeRecord, type TokenRecord } from './credentials.js';
import { Directory, type DirectoryChange, type EmulatorUser } from './directory.js';
import { DINGTALK_ADDRESS_LIMIT, RateLimits, type AddressLimit, type QpsWindow } from './limits.js';
import { generateOrg, type GeneratedOrgOptions } from './org-generator.js';
import { DEFAULT_PERMISSIONS } from './permissions.js';
import { parseSeed, type EmulatorSeed, type SeedDepartment, type SeedUser, type SeedUserInput } from './seed.js';
import { Traffic, type EmulatorCall, type EmulatorFault } from './traffic.js';

export type { CodeOutcome, TokenRecord } from './credentials.js';
export type { DirectoryChange, EmulatorUser } from './directory.js';
export type { EmulatorCall, EmulatorFault } from './traffic.js';

/** Settings of {@link EmulatorState}; see `EmulatorOptions`. */
export interface EmulatorStateOptions {
  seed: EmulatorSeed;
  /** People and departments generated beside the seed's (e.g. 10 000 people). */
  generatedOrg?: GeneratedOrgOptions;
  clientId: string;
  clientSecret: string;
  corpId: string;
  redirectUris?: readonly string[];
  permissions?: readonly string[];
  qpsLimit?: number | false;
  qpsWindow?: QpsWindow;
  addressLimit?: AddressLimit | false;
  throttleErrcode?: 90018 | 88;
  authCodeTtlMs?: number;
  freeLoginCodeTtlMs?: number;
  tokenTtlSeconds?: number;
  /** The clock under `advanceTime`; default `Date.now` (a test may pass a clock that stands still). */
  clock?: () => number;
}

export { DEFAULT_PERMISSIONS, PERMISSION } from './permissions.js';

/**
 * The emulator's mutable world, one facade over its parts: the organisation (directory.ts), issued
 * codes and tokens (credentials.ts), the call limits (limits.ts), the call log and injected faults
 * (traffic.ts), the app's permissions and a clock. Tests reach it through `emulator.state` to inspect
 * and steer the fake DingTalk (someone leaves, a profile changes, the next call fails, time passes).
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
  /** How oapi answers a call over the per-API limit: `90018`, or `88` (the "momentary ban", §2.5). */
  throttleErrcode: 90018 | 88;

  #permissions: Set<string>;
  #clockOffsetMs = 0;
  readonly #clock: () => number;
  #clientUserid: string | undefined;
  readonly #directory: Directory;
  readonly #credentials: Credentials;
  readonly #limits: RateLimits;
  readonly #traffic = new Traffic();

  constructor(options: EmulatorStateOptions) {
    const seed = parseSeed(options.seed);
    this.#clock = options.clock ?? Date.now;
    this.clientId = options.clientId;
    this.clientSecret = options.clientSecret;
    this.corpId = options.corpId;
    this.corpName = seed.corp.name;
    this.redirectUris = options.redirectUris ?? [];
    this.authCodeTtlMs = options.authCodeTtlMs ?? 5 * 60 * 1000;
    this.freeLoginCodeTtlMs = options.freeLoginCodeTtlMs ?? 5 * 60 * 1000;
    this.tokenTtlSeconds = options.tokenTtlSeconds ?? 7200;
    this.#permissions = new Set(options.permissions ?? DEFAULT_PERMISSIONS);
    const generated = options.generatedOrg === undefined ? { departments: [], users: [] } : generateOrg(options.generatedOrg);
    this.#directory = new Directory(options.clientId, [...seed.departments, ...generated.departments], [...seed.users, ...generated.users]);
    this.#credentials = new Credentials({
      now: () => this.now(),
      authCodeTtlMs: this.authCodeTtlMs,
      freeLoginCodeTtlMs: this.freeLoginCodeTtlMs,
      tokenTtlSeconds: this.tokenTtlSeconds,
    });
    this.#limits = new RateLimits(options.qpsLimit ?? 20, options.addressLimit ?? DINGTALK_ADDRESS_LIMIT, options.qpsWindow ?? 'aligned');
    this.throttleErrcode = options.throttleErrcode ?? 90018;
  }

  // --- clock --------------------------------------------------------------------------------

  /** The emulator's clock: real time (or the `clock` option) plus whatever {@link advanceTime} added. */
  now(): number {
    return this.#clock() + this.#clockOffsetMs;
  }

  /** Moves the emulator's clock forward (codes and tokens expire; QPS windows roll). */
  advanceTime(ms: number): void {
    this.#clockOffsetMs += ms;
  }

  // --- people and departments (directory.ts) --------------------------------------------------

  /** The organisation itself, for the directory reads. */
  get directory(): Directory {
    return this.#directory;
  }

  /** Everyone who can sign in to DingTalk, in seed order (members, leavers, outsiders). */
  users(): EmulatorUser[] {
    return this.#directory.users();
  }

  /** Anyone with this unionId (member or not). */
  findByUnionId(unionid: string): EmulatorUser | undefined {
    return this.#directory.findByUnionId(unionid);
  }

  /** A current member of the organisation by userid. */
  findMember(userid: string): EmulatorUser | undefined {
    return this.#directory.findMember(userid);
  }

  /** A current member by unionId. */
  findMemberByUnionId(unionid: string): EmulatorUser | undefined {
    return this.#directory.findMemberByUnionId(unionid);
  }

  department(deptId: number): SeedDepartment | undefined {
    return this.#directory.department(deptId);
  }

  /** Adds or replaces a department (announced as `org_dept_create` / `org_dept_modify`). */
  setDepartment(department: SeedDepartment): void {
    this.#directory.setDepartment(department);
  }

  /** Removes a department (announced as `org_dept_remove`). */
  removeDepartment(deptId: number): void {
    this.#directory.removeDepartment(deptId);
  }

  /** Adds a person (validated like a seed entry) and returns them; a member is announced as `user_add_org`. */
  addUser(input: SeedUserInput): EmulatorUser {
    return this.#directory.addUser(input);
  }

  /**
   * Calls `listener` on every directory change (a person joins, changes or leaves; a department is
   * created, changed or removed): the emulator's event subscriptions push them. Returns the unsubscribe.
   */
  onDirectoryChange(listener: (change: DirectoryChange) => void): () => void {
    return this.#directory.onChange(listener);
  }

  /**
   * The person leaves the organisation: gone from the directory (60121), still able to sign in to
   * DingTalk with their personal account. Announced as `user_leave_org` (pushed over Stream by
   * itself; over HTTP, push it with `pushEvent`).
   */
  markLeft(userid: string): void {
    this.#directory.markLeft(userid);
  }

  /** The person (re)joins the organisation (announced as `user_add_org`). */
  markMember(userid: string): void {
    this.#directory.markMember(userid);
  }

  /** Changes fields of a person found by userid or unionId (a member's change is announced as `user_modify_org`). */
  setProfile(id: string, patch: Partial<Omit<SeedUser, 'unionid'>>): EmulatorUser {
    return this.#directory.setProfile(id, patch);
  }

  /** Signs a member in to the emulated DingTalk client (whose JSAPI then yields their free-login codes). */
  setClientUser(userid: string | undefined): void {
    if (userid !== undefined && this.findMember(userid) === undefined) throw new Error(`emulator: no member with userid ${userid}`);
    this.#clientUserid = userid;
  }

  /** The person signed in to the emulated DingTalk client: as set, else the first active member. */
  clientUser(): EmulatorUser | undefined {
    if (this.#clientUserid !== undefined) return this.findMember(this.#clientUserid);
    return this.users().find((user) => user.status === 'member' && user.active);
  }

  /** The per-app openId: stable for (app, person), different across apps, as on DingTalk. */
  openIdFor(unionid: string): string {
    return this.#directory.openIdFor(unionid);
  }

  // --- permissions and limits -----------------------------------------------------------------

  /** Replaces the app's permissions (`PERMISSION`; e.g. `[]` to make users/me answer 403 and the directory reads 60011). */
  setPermissions(permissions: readonly string[]): void {
    this.#permissions = new Set(permissions);
  }

  hasPermission(permission: string): boolean {
    return this.#permissions.has(permission);
  }

  /** Per-app per-API calls per second (and how the second is counted); `false` turns throttling off. */
  setQpsLimit(limit: number | false, window?: QpsWindow): void {
    this.#limits.setQpsLimit(limit, window);
  }

  /** Counts a call against `api`'s second; false when it is over the limit. */
  admitCall(api: string): boolean {
    return this.#limits.admitCall(api, this.now());
  }

  /** The per-address block (§6.1); `false` turns it off. */
  setAddressLimit(limit: AddressLimit | false): void {
    this.#limits.setAddressLimit(limit);
  }

  /** Counts a request from `address`; the end of its block when it is blocked, else `undefined`. */
  admitAddress(address: string): number | undefined {
    return this.#limits.admitAddress(address, this.now());
  }

  // --- faults and the call log (traffic.ts) ---------------------------------------------------

  /** Every request served, oldest first. */
  get calls(): EmulatorCall[] {
    return this.#traffic.calls;
  }

  /** The next `times` requests to `path` (exact, without query) fail with `fault`. */
  failNext(path: string, fault: EmulatorFault, times = 1): void {
    this.#traffic.failNext(path, fault, times);
  }

  /** Removes and returns the next fault queued for `path`. */
  takeFault(path: string): EmulatorFault | undefined {
    return this.#traffic.takeFault(path);
  }

  /** Drops all queued faults. */
  clearFaults(): void {
    this.#traffic.clearFaults();
  }

  record(method: string, path: string): void {
    this.#traffic.record({ method, path, at: this.now() });
  }

  /** How many requests `path` received (optionally only with `method`). */
  countCalls(path: string, method?: string): number {
    return this.#traffic.countCalls(path, method);
  }

  resetCalls(): void {
    this.#traffic.resetCalls();
  }

  // --- codes and tokens (credentials.ts) ------------------------------------------------------

  /**
   * Issues a login `authCode` as if the person had picked themselves on the login page — for
   * tests that skip the HTML step.
   */
  issueAuthCode(params: { unionid: string; scope?: string; clientId?: string }): string {
    if (this.#directory.findByUnionId(params.unionid) === undefined) throw new Error(`emulator: no user with unionid ${params.unionid}`);
    return this.#credentials.issueAuthCode({
      unionid: params.unionid,
      scope: params.scope ?? 'openid',
      clientId: params.clientId ?? this.clientId,
    });
  }

  /** Consumes a login code (single use, short-lived). */
  consumeAuthCode(code: string): CodeOutcome<AuthCodeRecord> {
    return this.#credentials.consumeAuthCode(code);
  }

  /** Issues an in-client free-login code for a member (what `dd.requestAuthCode` would return). */
  issueFreeLoginCode(userid: string): string {
    if (this.findMember(userid) === undefined) throw new Error(`emulator: no member with userid ${userid}`);
    return this.#credentials.issueFreeLoginCode(userid);
  }

  consumeFreeLoginCode(code: string): CodeOutcome<FreeLoginCodeRecord> {
    return this.#credentials.consumeFreeLoginCode(code);
  }

  /** The app token: the same one while valid (its life extended), a new one after expiry (§2.1). */
  issueAppToken(): { token: string; expiresIn: number } {
    return this.#credentials.issueAppToken();
  }

  /** A user token plus refresh token for `unionid`. */
  issueUserToken(unionid: string, corpId?: string): { accessToken: string; refreshToken: string; expireIn: number } {
    return this.#credentials.issueUserToken(unionid, corpId);
  }

  /** Consumes a refresh token (rotated on use). */
  consumeRefreshToken(refreshToken: string): { unionid: string; corpId?: string } | undefined {
    return this.#credentials.consumeRefreshToken(refreshToken);
  }

  /** `valid`, `expired` (known but past its life) or `unknown`. */
  checkToken(token: string): { status: 'valid'; record: TokenRecord } | { status: 'expired' | 'unknown' } {
    return this.#credentials.checkToken(token);
  }

  /** Expires every app token now (the next oapi call gets 42001). */
  expireAppTokens(): void {
    this.#credentials.expire('app');
  }

  /** Expires every user token now. */
  expireUserTokens(): void {
    this.#credentials.expire('user');
  }

  /** Forgets a token entirely (the next use gets "invalid", as after an app secret reset). */
  revokeToken(token: string): void {
    this.#credentials.revoke(token);
  }
}
