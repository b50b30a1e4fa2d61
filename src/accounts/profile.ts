import type { UpstreamIdentity } from '../dingtalk/index.js';
import type { CreationAttributes } from 'sequelize';
import type { Account } from '../db/models/account.js';

/** What an account stores from DingTalk: the columns {@link accountProfile} writes. */
export type AccountProfile = Partial<
  Pick<
    Account,
    | 'unionId'
    | 'userId'
    | 'corpId'
    | 'name'
    | 'nickname'
    | 'avatarUrl'
    | 'email'
    | 'emailVerified'
    | 'mobile'
    | 'title'
    | 'jobNumber'
    | 'managerUserId'
    | 'hiredAt'
    | 'departments'
    | 'isAdmin'
    | 'isBoss'
    | 'dingtalkRoles'
  >
>;

export interface ProfileOptions {
  /**
   * When DingTalk gives no email, `<userid or job number>@<domain>` is used so apps that require an
   * email keep working; such an address is never marked verified.
   */
  emailFallbackDomain?: string;
}

/**
 * The one DingTalk identity → account mapping, used by sign-in (web and free login), the directory
 * sweep and the contact events alike. `existing` is the stored account (absent when creating one).
 *
 * The rule for fields DingTalk may leave out (see `UpstreamIdentity`):
 * - **absent** (`undefined`: not read, e.g. free login never reads users/me, so it has no nickname,
 *   avatar or personal email; or not shared, for want of a permission) → the stored value stays;
 * - **present but empty** (`null`: DingTalk sent `""` in every source of the field that was read)
 *   → the stored value is cleared, because DingTalk says there is none;
 * - a value → stored.
 * Always present and always copied: the name, and — from the directory record — departments and the
 * admin/boss flags. The email fallback fills a missing email only: it never replaces one DingTalk gave.
 */
export function accountProfile(
  identity: UpstreamIdentity,
  existing: Account | null | undefined,
  options: ProfileOptions = {},
): AccountProfile {
  const profile: AccountProfile = {
    name: identity.name,
    departments: identity.departments,
    isAdmin: identity.isAdmin,
    isBoss: identity.isBoss,
  };
  if (!existing) profile.unionId = identity.unionId;
  if (identity.userId !== undefined) profile.userId = identity.userId;
  if (identity.corpId !== undefined) profile.corpId = identity.corpId;
  if (identity.roleNames !== undefined) profile.dingtalkRoles = identity.roleNames;

  // Absent → unchanged (a new account starts empty); null → cleared.
  const optional = ['nickname', 'avatarUrl', 'mobile', 'title', 'jobNumber', 'managerUserId', 'hiredAt'] as const;
  for (const key of optional) {
    const value = identity[key];
    if (value !== undefined) (profile as Record<string, unknown>)[key] = value;
    else if (!existing) (profile as Record<string, unknown>)[key] = null;
  }
  // A new account shows its name where DingTalk gave no nickname (users/me not read).
  if (!existing && (profile.nickname === null || profile.nickname === undefined)) profile.nickname = identity.name;

  if (typeof identity.email === 'string') {
    profile.email = identity.email;
    profile.emailVerified = identity.emailVerified;
  } else if (identity.email === null || !existing || existing.email === null) {
    // DingTalk says there is none (or there never was one): the fallback address, else nothing.
    const login = identity.userId ?? existing?.userId ?? stringOf(identity.jobNumber) ?? existing?.jobNumber ?? undefined;
    const fallback =
      options.emailFallbackDomain && login && /^[\w.+-]+$/.test(login) ? `${login}@${options.emailFallbackDomain}`.toLowerCase() : null;
    profile.email = fallback;
    profile.emailVerified = false;
  }
  return profile;
}

function stringOf(value: string | null | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** The attributes of a new account: {@link accountProfile} of no existing account, plus the required columns. */
export function newAccount(profile: AccountProfile, identity: UpstreamIdentity): CreationAttributes<Account> {
  return {
    userId: null,
    corpId: null,
    statusReason: null,
    lastLoginAt: null,
    ...profile,
    unionId: identity.unionId,
    name: identity.name,
  };
}
