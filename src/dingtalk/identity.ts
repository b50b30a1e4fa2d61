import type { ContactUser, UserDetail } from './schemas.js';

/** A department the user belongs to, with its display name and its place in the tree. */
export interface UpstreamDepartment {
  id: number;
  name: string;
  /**
   * The departments above it, root first, parent last (`[]` for the root itself): what a role rule
   * "this department and its sub-departments" matches against.
   */
  ancestors: number[];
  /** Names from the top-level department down to this one, `/`-separated (the root's own name for the root). */
  path: string;
}

/**
 * Who signed in, as DingTalk describes them, in our vocabulary. This file is the one place where
 * DingTalk's names (`unionId`, `userid`, `corpId`, `dept_id_list`, `org_email`, `state_code`, …)
 * become ours; everything outside `src/dingtalk/` sees only this type.
 */
export interface UpstreamIdentity {
  /** Stable across all apps of the developer organisation: the account lookup key (§6.2 gotcha 3). */
  unionId: string;
  /** Per-app identifier; informational only. */
  openId?: string;
  /** The employee id inside the organisation; only for members (enterprise detail fetched). */
  userId?: string;
  /** The organisation whose membership was verified, or the one picked at login. */
  corpId?: string;
  /** Real name from the directory, else the DingTalk nickname. */
  name: string;
  nickname: string;
  avatarUrl?: string;
  email?: string;
  /** True only for the organisation's mail (`org_email`); personal addresses are unverified. */
  emailVerified: boolean;
  /** E.164: `+<stateCode><mobile>`. */
  mobile?: string;
  title?: string;
  jobNumber?: string;
  departments: UpstreamDepartment[];
  isAdmin: boolean;
  isBoss: boolean;
  /** Whether the member has activated DingTalk; `false` means "not yet activated", not "left". */
  active?: boolean;
  roleNames: string[];
}

/** Input of {@link toUpstreamIdentity}. */
export interface IdentitySources {
  /** `/v1.0/contact/users/me` — absent for free login, which has no user token. */
  me?: ContactUser;
  /** `/topapi/v2/user/get` — present when the membership was checked. */
  member?: UserDetail;
  /** Names and ancestry for `member.dept_id_list`, in that order. */
  departments?: UpstreamDepartment[];
  corpId?: string;
}

/**
 * Translates DingTalk records into an {@link UpstreamIdentity}. At least one of `me` and `member`
 * must be given, and a unionId must be known (from `me.unionId` or `member.unionid`).
 */
export function toUpstreamIdentity(sources: IdentitySources): UpstreamIdentity {
  const { me, member } = sources;
  const unionId = nonEmpty(me?.unionId) ?? nonEmpty(member?.unionid);
  if (unionId === undefined) throw new TypeError('toUpstreamIdentity: no unionId in the DingTalk records');

  const nickname = nonEmpty(me?.nick) ?? nonEmpty(member?.name) ?? unionId;
  const identity: UpstreamIdentity = {
    unionId,
    name: nonEmpty(member?.name) ?? nickname,
    nickname,
    emailVerified: false,
    departments: sources.departments ?? [],
    isAdmin: member?.admin ?? false,
    isBoss: member?.boss ?? false,
    roleNames: (member?.role_list ?? []).map((role) => role.name).filter((name) => name !== ''),
  };

  assign(identity, 'openId', nonEmpty(me?.openId));
  assign(identity, 'userId', nonEmpty(member?.userid));
  assign(identity, 'corpId', nonEmpty(sources.corpId));
  // Only https URLs are kept: a picture is shown by apps in their pages (no mixed content, no
  // javascript: or data: URLs).
  assign(identity, 'avatarUrl', httpsOnly(nonEmpty(me?.avatarUrl)) ?? httpsOnly(nonEmpty(member?.avatar)));
  assign(identity, 'title', nonEmpty(member?.title));
  assign(identity, 'jobNumber', nonEmpty(member?.job_number));
  if (member?.active !== undefined) identity.active = member.active;

  // Only the corporate mailbox is vouched for by the organisation; `email` on user/get is whatever
  // an admin typed in, and users/me `email` is the personal address (§1.4, §6.2 gotcha 6).
  const orgEmail = nonEmpty(member?.org_email);
  const otherEmail = nonEmpty(member?.email) ?? nonEmpty(me?.email);
  if (orgEmail !== undefined) {
    identity.email = orgEmail;
    identity.emailVerified = true;
  } else if (otherEmail !== undefined) {
    identity.email = otherEmail;
  }

  assign(identity, 'mobile', toE164(member?.state_code, member?.mobile) ?? toE164(me?.stateCode, me?.mobile));
  return identity;
}

/**
 * `+<stateCode><mobile>` (Logto does the same concatenation, §7). Without a country code the number
 * cannot be made E.164, so it is dropped rather than guessed.
 */
export function toE164(stateCode: string | undefined, mobile: string | undefined): string | undefined {
  const digits = mobile?.replace(/\D/g, '') ?? '';
  const country = stateCode?.replace(/\D/g, '') ?? '';
  if (digits === '' || country === '') return undefined;
  // Some records already carry the country code ("+86-138…" / "86-138…").
  if (digits.startsWith(country) && (mobile?.trimStart().startsWith('+') === true || mobile?.includes('-') === true)) {
    return `+${digits}`;
  }
  return `+${country}${digits}`;
}

function httpsOnly(value: string | undefined): string | undefined {
  return value !== undefined && URL.canParse(value) && new URL(value).protocol === 'https:' ? value : undefined;
}

function nonEmpty(value: string | undefined | null): string | undefined {
  if (value === undefined || value === null) return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

function assign<K extends keyof UpstreamIdentity>(target: UpstreamIdentity, key: K, value: UpstreamIdentity[K] | undefined): void {
  if (value !== undefined) target[key] = value;
}
