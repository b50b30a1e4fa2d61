import type { Account as OidcAccount, ClaimsParameterMember, FindAccount } from 'oidc-provider';
import type { AccessCheck } from '../accounts/access.js';
import type { AccountCache } from './account-cache.js';
import type { Account } from '../db/models/account.js';

/** Scope → claims, as in DESIGN.md's contract. */
export const SCOPE_CLAIMS = {
  openid: ['sub'],
  profile: ['name', 'nickname', 'picture', 'preferred_username'],
  email: ['email', 'email_verified'],
  phone: ['phone_number', 'phone_number_verified'],
  roles: ['roles', 'groups'],
  dingtalk: [
    'dingtalk_union_id',
    'dingtalk_user_id',
    'dingtalk_corp_id',
    'departments',
    'title',
    'dingtalk_job_number',
    'dingtalk_manager_user_id',
    'dingtalk_hired_date',
  ],
} as const;

/** What a client may set about the claims it receives (client metadata). */
export interface ClaimOptions {
  /** `groups` also lists the departments as paths ("研发中心/平台组"); default: roles only. */
  departmentGroups?: boolean;
}

/** Every claim a token or userinfo can carry for an account, before scope filtering. */
export function accountClaims(account: Account, roles: string[], options: ClaimOptions = {}): Record<string, unknown> {
  const departments = account.departments as { id: number; name: string; path?: string }[];
  const groups = options.departmentGroups ? [...roles, ...departments.map((d) => d.path ?? d.name)] : roles;
  return {
    sub: account.id,
    name: account.name,
    nickname: account.nickname ?? account.name,
    // Only an absolute https URL (OIDC Core 5.1 asks for a URL; an http or javascript: one from
    // upstream would be mixed content or worse in the app that shows it).
    picture: httpsUrl(account.avatarUrl),
    // ASCII on purpose: apps use it as a login name; a Chinese display name is not one.
    preferred_username: account.userId ?? account.jobNumber ?? account.id,
    email: account.email ?? undefined,
    email_verified: account.email ? account.emailVerified : undefined,
    // DingTalk accounts are registered by SMS, so a number DingTalk gives us was verified by it.
    phone_number: account.mobile ?? undefined,
    phone_number_verified: account.mobile ? true : undefined,
    roles,
    groups: [...new Set(groups)],
    dingtalk_union_id: account.unionId,
    dingtalk_user_id: account.userId ?? undefined,
    dingtalk_corp_id: account.corpId ?? undefined,
    departments: departments.map((d) => d.name),
    title: account.title ?? undefined,
    // Employee fields of the directory record (issue #13 item 6): 工号, the direct manager's userid,
    // the hire date as a calendar date in China time (DingTalk gives the day's midnight in ms).
    dingtalk_job_number: account.jobNumber ?? undefined,
    dingtalk_manager_user_id: account.managerUserId ?? undefined,
    dingtalk_hired_date: account.hiredAt ? chinaDate(account.hiredAt) : undefined,
  };
}

/** `YYYY-MM-DD` of an instant in China Standard Time (UTC+8, no daylight saving). */
function chinaDate(at: Date): string {
  return new Date(at.getTime() + 8 * 3600_000).toISOString().slice(0, 10);
}

/** Claims every ID token has anyway; `sub` is the only account claim among them. */
const ID_TOKEN_ALWAYS = new Set(['sub']);

/**
 * The ID token carries `sub`, the claims requested for it with the claims parameter, and those its
 * client is configured for (`id_token_claims`: true for all granted, or a list); everything else
 * stays in userinfo (OIDC Core 5.4).
 */
export function idTokenClaimNames(client: unknown, requested: Record<string, unknown> | undefined): Set<string> | 'all' {
  const configured = (client as { id_token_claims?: unknown } | undefined)?.id_token_claims;
  if (configured === true) return 'all';
  return new Set([...ID_TOKEN_ALWAYS, ...Object.keys(requested ?? {}), ...(Array.isArray(configured) ? (configured as string[]) : [])]);
}

/**
 * oidc-provider's findAccount: only active accounts exist for it. When a token is being used (a
 * refresh, a code exchange, userinfo: oidc-provider passes it as the third argument) the account
 * must also still be admitted by that app's `access_policy` (`mayUse`, from the account cache):
 * otherwise there is no account, and oidc-provider answers `invalid_grant` / `invalid_token`.
 */
export function createFindAccount(
  accounts: AccountCache,
  options: {
    mayUse?: AccessCheck;
    /**
     * A refresh (a refresh token at the token endpoint) is also a membership re-check: someone who
     * left cannot refresh (accounts/deprovisioning.ts `checkMembershipOnRefresh`, cached a few minutes).
     */
    isMemberOnRefresh?: (accountId: string) => Promise<boolean>;
  } = {},
): FindAccount {
  return async (ctx, sub, token): Promise<OidcAccount | undefined> => {
    const snapshot = await accounts.get(sub);
    if (!snapshot || snapshot.account.status !== 'active') return undefined;
    if (token && options.mayUse && ctx?.oidc?.client && !(await options.mayUse(sub, ctx.oidc.client))) return undefined;
    if (
      options.isMemberOnRefresh &&
      token?.kind === 'RefreshToken' &&
      ctx?.oidc?.route === 'token' &&
      !(await options.isMemberOnRefresh(sub))
    )
      return undefined;
    const { account, roles } = snapshot;
    const client = ctx?.oidc?.client as { groups_include_departments?: unknown } | undefined;
    const claims = accountClaims(account, roles, { departmentGroups: client?.groups_include_departments === true });
    return {
      accountId: account.id,
      async claims(use: string, _scope: string, requested: { [key: string]: null | ClaimsParameterMember }) {
        if (use !== 'id_token') return claims as { sub: string };
        const names = idTokenClaimNames(client, requested);
        if (names === 'all') return claims as { sub: string };
        return Object.fromEntries(Object.entries(claims).filter(([name]) => names.has(name))) as { sub: string };
      },
    };
  };
}

/** Introspection's check: is the account still active? (A disabled account's tokens are inactive.) */
export function createIsActiveAccount(accounts: AccountCache): (accountId: string) => Promise<boolean> {
  return async (accountId) => (await accounts.get(accountId))?.account.status === 'active';
}

/** `value` when it is an absolute https: URL, else undefined. */
export function httpsUrl(value: string | null | undefined): string | undefined {
  if (!value || !URL.canParse(value)) return undefined;
  return new URL(value).protocol === 'https:' ? value : undefined;
}
