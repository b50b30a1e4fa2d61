import { randomBytes } from 'node:crypto';

/** A login `authCode` (§1.2): single use, short-lived, bound to the app and the scope asked for. */
export interface AuthCodeRecord {
  unionid: string;
  clientId: string;
  scope: string[];
  expiresAt: number;
  used: boolean;
}

/** A free-login code (§4): what `dd.runtime.permission.requestAuthCode` hands the page. */
export interface FreeLoginCodeRecord {
  userid: string;
  expiresAt: number;
  used: boolean;
}

/** An issued token: an app token (oapi + api) or a user token (api, for the user it was issued to). */
export type TokenRecord = { type: 'app'; expiresAt: number } | { type: 'user'; unionid: string; corpId?: string; expiresAt: number };

/** Outcome of consuming a single-use code. */
export type CodeOutcome<T> = { ok: true; value: T } | { ok: false; reason: 'unknown' | 'used' | 'expired' };

/** Lifetimes and the clock the credentials live by. */
export interface CredentialSettings {
  now(): number;
  authCodeTtlMs: number;
  freeLoginCodeTtlMs: number;
  tokenTtlSeconds: number;
}

/** Refresh tokens live 30 days (§1.3). */
const REFRESH_TTL_MS = 30 * 24 * 3600 * 1000;

/** Everything DingTalk hands out and later checks: login and free-login codes, app and user tokens. */
export class Credentials {
  readonly #settings: CredentialSettings;
  readonly #authCodes = new Map<string, AuthCodeRecord>();
  readonly #freeLoginCodes = new Map<string, FreeLoginCodeRecord>();
  readonly #tokens = new Map<string, TokenRecord>();
  readonly #refreshTokens = new Map<string, { unionid: string; corpId?: string; expiresAt: number }>();
  #appToken: string | undefined;
  #issued = 0;

  constructor(settings: CredentialSettings) {
    this.#settings = settings;
  }

  issueAuthCode(params: { unionid: string; scope: string; clientId: string }): string {
    this.#sweep();
    const code = randomToken(16);
    this.#authCodes.set(code, {
      unionid: params.unionid,
      clientId: params.clientId,
      scope: params.scope.split(/\s+/).filter(Boolean),
      expiresAt: this.#settings.now() + this.#settings.authCodeTtlMs,
      used: false,
    });
    return code;
  }

  consumeAuthCode(code: string): CodeOutcome<AuthCodeRecord> {
    return consume(this.#authCodes.get(code), this.#settings.now());
  }

  issueFreeLoginCode(userid: string): string {
    this.#sweep();
    const code = randomToken(16);
    this.#freeLoginCodes.set(code, { userid, expiresAt: this.#settings.now() + this.#settings.freeLoginCodeTtlMs, used: false });
    return code;
  }

  consumeFreeLoginCode(code: string): CodeOutcome<FreeLoginCodeRecord> {
    return consume(this.#freeLoginCodes.get(code), this.#settings.now());
  }

  /**
   * The app token. As DingTalk does, a request inside the validity window returns the same token
   * and extends it; after expiry a new one is minted.
   */
  issueAppToken(): { token: string; expiresIn: number } {
    const now = this.#settings.now();
    const current = this.#appToken === undefined ? undefined : this.#tokens.get(this.#appToken);
    if (this.#appToken === undefined || current === undefined || current.expiresAt <= now) this.#appToken = randomToken(16);
    this.#tokens.set(this.#appToken, { type: 'app', expiresAt: now + this.#settings.tokenTtlSeconds * 1000 });
    return { token: this.#appToken, expiresIn: this.#settings.tokenTtlSeconds };
  }

  /** A user token plus refresh token for `unionid`. */
  issueUserToken(unionid: string, corpId?: string): { accessToken: string; refreshToken: string; expireIn: number } {
    this.#sweep();
    const now = this.#settings.now();
    const accessToken = randomToken(16);
    const refreshToken = randomToken(16);
    const record: TokenRecord = { type: 'user', unionid, expiresAt: now + this.#settings.tokenTtlSeconds * 1000 };
    if (corpId !== undefined) record.corpId = corpId;
    this.#tokens.set(accessToken, record);
    const refresh = { unionid, expiresAt: now + REFRESH_TTL_MS };
    this.#refreshTokens.set(refreshToken, corpId === undefined ? refresh : { ...refresh, corpId });
    return { accessToken, refreshToken, expireIn: this.#settings.tokenTtlSeconds };
  }

  /** Consumes a refresh token (rotated on use). */
  consumeRefreshToken(refreshToken: string): { unionid: string; corpId?: string } | undefined {
    const record = this.#refreshTokens.get(refreshToken);
    this.#refreshTokens.delete(refreshToken);
    return record !== undefined && record.expiresAt > this.#settings.now() ? record : undefined;
  }

  /** `valid`, `expired` (known but past its life) or `unknown`. */
  checkToken(token: string): { status: 'valid'; record: TokenRecord } | { status: 'expired' | 'unknown' } {
    const record = this.#tokens.get(token);
    if (record === undefined) return { status: 'unknown' };
    if (record.expiresAt <= this.#settings.now()) return { status: 'expired' };
    return { status: 'valid', record };
  }

  /** Expires every token of this kind now. */
  expire(type: TokenRecord['type']): void {
    const now = this.#settings.now();
    for (const record of this.#tokens.values()) if (record.type === type) record.expiresAt = now;
  }

  /** Forgets a token entirely (the next use gets "invalid", as after an app secret reset). */
  revoke(token: string): void {
    this.#tokens.delete(token);
    if (this.#appToken === token) this.#appToken = undefined;
  }

  /**
   * Every 1000 codes or tokens issued, drops those a day past their expiry, so a long-running `npm start` does not keep everything it
   * ever issued; recently expired ones stay, so their use still reads as `expired`, not `unknown`.
   */
  #sweep(): void {
    this.#issued += 1;
    if (this.#issued % 1000 !== 0) return;
    const horizon = this.#settings.now() - 24 * 3600 * 1000;
    for (const records of [this.#authCodes, this.#freeLoginCodes, this.#tokens, this.#refreshTokens] as Map<
      string,
      { expiresAt: number }
    >[]) {
      for (const [key, record] of records) if (record.expiresAt < horizon) records.delete(key);
    }
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
