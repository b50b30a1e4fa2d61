import type { Account as OidcAccount, ClaimsParameterMember, FindAccount } from 'oidc-provider';
import type { Models } from '../db/models/index.js';
import type { Account } from '../db/models/account.js';

/** Scope → claims, as in DESIGN.md's contract. */
export const SCOPE_CLAIMS = {
  openid: ['sub'],
  profile: ['name', 'nickname', 'picture', 'preferred_username'],
  email: ['email', 'email_verified'],
  phone: ['phone_number', 'phone_number_verified'],
  roles: ['roles', 'groups'],
  dingtalk: ['dingtalk_union_id', 'dingtalk_user_id', 'dingtalk_corp_id', 'departments', 'title'],
} as const;

/** Every claim a token or userinfo can carry for an account, before scope filtering. */
export function accountClaims(account: Account, roles: string[]): Record<string, unknown> {
  return {
    sub: account.id,
    name: account.name,
    nickname: account.nickname ?? account.name,
    picture: account.avatarUrl ?? undefined,
    // ASCII on purpose: apps use it as a login name; a Chinese display name is not one.
    preferred_username: account.userId ?? account.jobNumber ?? account.id,
    email: account.email ?? undefined,
    email_verified: account.email ? account.emailVerified : undefined,
    // DingTalk accounts are registered by SMS, so a number DingTalk gives us was verified by it.
    phone_number: account.mobile ?? undefined,
    phone_number_verified: account.mobile ? true : undefined,
    roles,
    groups: roles,
    dingtalk_union_id: account.unionId,
    dingtalk_user_id: account.userId ?? undefined,
    dingtalk_corp_id: account.corpId ?? undefined,
    departments: account.departments.map((d) => d.name),
    title: account.title ?? undefined,
  };
}

/** oidc-provider's findAccount: only active accounts exist for it. */
export function createFindAccount(models: Models): FindAccount {
  const { Account, AccountRole, Role } = models;
  return async (_ctx, sub): Promise<OidcAccount | undefined> => {
    const account = await Account.findByPk(sub, {
      include: [{ model: AccountRole, include: [{ model: Role, attributes: ['name'] }] }],
    });
    if (!account || account.status !== 'active') return undefined;
    const links = (account as unknown as { AccountRoles?: { Role?: { name: string } }[] }).AccountRoles ?? [];
    const roles = [...new Set(links.map((link) => link.Role?.name).filter((n): n is string => Boolean(n)))].sort();
    const claims = accountClaims(account, roles);
    return {
      accountId: account.id,
      async claims(_use: string, _scope: string, _claims: { [key: string]: null | ClaimsParameterMember }) {
        return claims as { sub: string };
      },
    };
  };
}
