/**
 * Who may use an application (client metadata `access_policy`): anyone with one of `roles`, or
 * anyone in one of `departments` (DingTalk department ids, sub-departments included). No policy,
 * or an empty one, lets every active account in.
 */
export interface AccessPolicy {
  roles?: string[];
  departments?: number[];
}

export interface AccessFacts {
  roles: readonly string[];
  /** Department ids of the account with, when known, their ancestors. */
  departments: readonly { id: number; ancestors?: readonly number[] }[];
}

export function isAccessPolicy(value: unknown): value is AccessPolicy {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const { roles, departments, ...rest } = value as Record<string, unknown>;
  return (
    Object.keys(rest).length === 0 &&
    (roles === undefined || (Array.isArray(roles) && roles.every((r) => typeof r === 'string' && r.length > 0))) &&
    (departments === undefined || (Array.isArray(departments) && departments.every((d) => Number.isInteger(d) && d > 0)))
  );
}

/** Pure: does this account satisfy the policy? */
export function isAllowed(policy: AccessPolicy | undefined, facts: AccessFacts): boolean {
  const roles = policy?.roles ?? [];
  const departments = policy?.departments ?? [];
  if (roles.length === 0 && departments.length === 0) return true;
  if (roles.some((role) => facts.roles.includes(role))) return true;
  const mine = new Set(facts.departments.flatMap((d) => [d.id, ...(d.ancestors ?? [])]));
  return departments.some((id) => mine.has(id));
}

export function policyOf(client: unknown): AccessPolicy | undefined {
  const value = (client as { access_policy?: unknown } | undefined)?.access_policy;
  return isAccessPolicy(value) ? value : undefined;
}

/** An account's status, departments and role names, as the account cache (oidc/account-cache.ts) keeps them. */
export type AccountLookup = (
  accountId: string,
) => Promise<{ account: { status: string; departments: unknown }; roles: readonly string[] } | undefined>;

/** Applies the client's policy to the account's roles and departments (read through `lookup`). */
export function createAccessCheck(lookup: AccountLookup) {
  return async function mayUse(accountId: string, client: unknown): Promise<boolean> {
    const policy = policyOf(client);
    if (!policy || ((policy.roles ?? []).length === 0 && (policy.departments ?? []).length === 0)) return true;
    const snapshot = await lookup(accountId);
    if (!snapshot || snapshot.account.status !== 'active') return false;
    return isAllowed(policy, {
      roles: [...snapshot.roles],
      departments: snapshot.account.departments as AccessFacts['departments'],
    });
  };
}

export type AccessCheck = ReturnType<typeof createAccessCheck>;
