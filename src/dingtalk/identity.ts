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
 * Who signed in, or who the directory lists, as DingTalk describes them, in our vocabulary. This file
 * is the one place where DingTalk's names (`unionId`, `userid`, `corpId`, `dept_id_list`, `org_email`,
 * `state_code`, …) become ours; everything outside `src/dingtalk/` sees only this type.
 *
 * Fields that may be missing follow one rule, which the account mapping (accounts/profile.ts) relies
 * on: **`undefined` = not read** (the record that carries it was not fetched, or DingTalk left the
 * field out, e.g. for want of a permission) → the stored value stays; **`null` = read and empty**
 * (DingTalk sent `""`) → the stored value is cleared. A field with several sources (email, avatar,
 * mobile) is `null` only when every one of its sources was read and empty; one source's silence is
 * never taken as another's "none".
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
  /** The DingTalk nickname (users/me `nick`); `undefined` when users/me was not read (free login, directory reads). */
  nickname?: string | null;
  avatarUrl?: string | null;
  email?: string | null;
  /** True only for the organisation's mail (`org_email`); personal addresses are unverified. */
  emailVerified: boolean;
  /** E.164: `+<stateCode><mobile>`. */
  mobile?: string | null;
  title?: string | null;
  /** 工号, the employee number. */
  jobNumber?: string | null;
  /** The direct manager's id in the organisation (user/get only). */
  managerUserId?: string | null;
  /** When the person joined the organisation (hire date). */
  hiredAt?: Date | null;
  departments: UpstreamDepartment[];
  isAdmin: boolean;
  isBoss: boolean;
  /** Whether the member has activated DingTalk; `false` means "not yet activated", not "left". */
  active?: boolean;
  /** DingTalk role names; `undefined` when not read (the per-department list reads do not carry them, §11.5). */
  roleNames?: string[];
}

/** The part of a directory record that {@link toUpstreamIdentity} reads (user/get, or a v2/user/list item). */
export type MemberRecord = Omit<UserDetail, 'role_list'> & { role_list?: UserDetail['role_list'] };

/** Input of {@link toUpstreamIdentity}. */
export interface IdentitySources {
  /** `/v1.0/contact/users/me` — absent for free login, which has no user token. */
  me?: ContactUser;
  /** `/topapi/v2/user/get` (or an item of `/topapi/v2/user/list`) — present when the membership was checked. */
  member?: MemberRecord;
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

  const nick = me === undefined ? undefined : (nonEmpty(me.nick) ?? null);
  const identity: UpstreamIdentity = {
    unionId,
    name: nonEmpty(member?.name) ?? nick ?? unionId,
    emailVerified: false,
    departments: sources.departments ?? [],
    isAdmin: member?.admin ?? false,
    isBoss: member?.boss ?? false,
  };
  assign(identity, 'nickname', nick);
  if (member?.role_list !== undefined) identity.roleNames = member.role_list.map((role) => role.name).filter((name) => name !== '');

  assign(identity, 'openId', nonEmpty(me?.openId));
  assign(identity, 'userId', nonEmpty(member?.userid));
  assign(identity, 'corpId', nonEmpty(sources.corpId));
  // Only https URLs are kept: a picture is shown by apps in their pages (no mixed content, no
  // javascript: or data: URLs). user/get sends `avatar` only for a custom one (§2.3), so a read
  // directory record without it says "no custom avatar".
  // users/me is a source of avatar, email and mobile whenever it could have been read: without it
  // (free login, directory reads) the directory record alone never says "none" for them.
  function fromMe(
    value: string | undefined,
    read: (value: string | undefined) => string | null | undefined,
  ): (string | null | undefined)[] {
    if (me !== undefined) return [read(value)];
    return member === undefined ? [] : [undefined];
  }
  assign(
    identity,
    'avatarUrl',
    pick([
      ...(member === undefined ? [] : [field(member.avatar ?? '', httpsOnly)]),
      ...fromMe(me?.avatarUrl, (avatarUrl) => field(avatarUrl, httpsOnly)),
    ]),
  );
  assign(identity, 'title', field(member?.title));
  assign(identity, 'jobNumber', field(member?.job_number));
  assign(identity, 'managerUserId', field(member?.manager_userid));
  if (member !== undefined && 'hired_date' in member) {
    const hired = member.hired_date;
    identity.hiredAt = typeof hired === 'number' && Number.isFinite(hired) && hired > 0 ? new Date(hired) : null;
  }
  if (member?.active !== undefined) identity.active = member.active;

  // Only the corporate mailbox is vouched for by the organisation; `email` on user/get is whatever
  // an admin typed in, and users/me `email` is the personal address (§1.4, §6.2 gotcha 6).
  const orgEmail = field(member?.org_email);
  if (typeof orgEmail === 'string') {
    identity.email = orgEmail;
    identity.emailVerified = true;
  } else {
    assign(identity, 'email', pick([...(member === undefined ? [] : [orgEmail, field(member.email)]), ...fromMe(me?.email, field)]));
  }

  assign(
    identity,
    'mobile',
    pick([
      ...(member === undefined ? [] : [phone(member.state_code, member.mobile)]),
      ...fromMe(me?.mobile, () => phone(me?.stateCode, me?.mobile)),
    ]),
  );
  return identity;
}

/**
 * One source of a field: `undefined` when the source left it out, `null` when it sent an empty (or,
 * with `usable`, an unusable) value, else the trimmed value.
 */
function field(value: string | undefined | null, usable?: (value: string) => string | undefined): string | null | undefined {
  if (value === undefined || value === null) return undefined;
  const trimmed = nonEmpty(value);
  if (trimmed === undefined) return null;
  return usable ? (usable(trimmed) ?? null) : trimmed;
}

/**
 * A field from the sources that were read: the first value; `null` only when every one of them sent
 * it empty; else (none read, or one left it out) `undefined`.
 */
function pick(sources: (string | null | undefined)[]): string | null | undefined {
  const value = sources.find((source): source is string => typeof source === 'string');
  if (value !== undefined) return value;
  return sources.length > 0 && sources.every((source) => source === null) ? null : undefined;
}

/** A mobile number as one source of `mobile`: a number without a country code cannot be used, and says nothing. */
function phone(stateCode: string | undefined, mobile: string | undefined): string | null | undefined {
  if (mobile === undefined) return undefined;
  if (nonEmpty(mobile) === undefined) return null;
  return toE164(stateCode, mobile);
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

function httpsOnly(value: string): string | undefined {
  return URL.canParse(value) && new URL(value).protocol === 'https:' ? value : undefined;
}

function nonEmpty(value: string | undefined | null): string | undefined {
  if (value === undefined || value === null) return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

function assign<K extends keyof UpstreamIdentity>(target: UpstreamIdentity, key: K, value: UpstreamIdentity[K] | undefined): void {
  if (value !== undefined) target[key] = value;
}
