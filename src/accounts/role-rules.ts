/**
 * Role rules, evaluated: which roles an account's DingTalk record earns. Pure — no database, no
 * DingTalk — so the service (roles.ts), the admin console's preview and the tests share one meaning
 * of every rule kind.
 */
import { AppError } from '../errors/app-error.js';

/** Every kind of rule, and what its `value` holds. */
export const RULE_KINDS = ['department', 'admin', 'boss', 'dingtalk_role', 'title', 'users'] as const;
export type RuleKind = (typeof RULE_KINDS)[number];

/**
 * `department`: DingTalk department ids · `admin` / `boss`: the flag value that matches (normally
 * `true`) · `dingtalk_role`: DingTalk role names (`role_list`) · `title`: exact titles ·
 * `users`: DingTalk userids and/or unionIds.
 */
export type RuleValue = number[] | boolean | string[];

/** What a rule says, without its identity: enough to evaluate or preview it. */
export interface RuleDefinition {
  kind: RuleKind;
  value: RuleValue;
  /** `department` only: members of sub-departments match too. */
  includeSubDepartments: boolean;
}

/** A stored rule, with the role it gives. */
export interface Rule extends RuleDefinition {
  id: number;
  role: string;
}

/** What rules look at: the account's DingTalk record as we stored it. */
export interface AccountFacts {
  unionId: string;
  userId: string | null;
  /** Each department with its ancestors (any order); `ancestors` may be missing on old records. */
  departments: readonly { id: number; ancestors?: readonly number[] }[];
  isAdmin: boolean;
  isBoss: boolean;
  /** DingTalk role names. */
  dingtalkRoles: readonly string[];
  title: string | null;
}

/**
 * Roles the account earns → the ids of the rules that give each (ascending), role names in
 * ascending order. Rules that match nothing leave no entry.
 */
export function evaluate(rules: readonly Rule[], facts: AccountFacts): Map<string, number[]> {
  const earned = new Map<string, number[]>();
  for (const rule of [...rules].sort((a, b) => a.id - b.id)) {
    if (!matches(rule, facts)) continue;
    const ids = earned.get(rule.role);
    if (ids === undefined) earned.set(rule.role, [rule.id]);
    else ids.push(rule.id);
  }
  return new Map([...earned].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Whether one rule matches the account. An empty list matches no one; a malformed value neither. */
export function matches(rule: RuleDefinition, facts: AccountFacts): boolean {
  switch (rule.kind) {
    case 'department': {
      const wanted = new Set(numbers(rule.value));
      return facts.departments.some(
        (department) =>
          wanted.has(department.id) || (rule.includeSubDepartments && (department.ancestors ?? []).some((id) => wanted.has(id))),
      );
    }
    case 'admin':
      return typeof rule.value === 'boolean' && facts.isAdmin === rule.value;
    case 'boss':
      return typeof rule.value === 'boolean' && facts.isBoss === rule.value;
    case 'dingtalk_role': {
      const wanted = new Set(strings(rule.value));
      return facts.dingtalkRoles.some((name) => wanted.has(name));
    }
    case 'title':
      return facts.title !== null && strings(rule.value).includes(facts.title);
    case 'users':
      return isListedUser(strings(rule.value), facts);
  }
}

/** Whether the account's userid or unionId is in `ids` (a `users` rule, ADMIN_DINGTALK_USERIDS). */
export function isListedUser(ids: readonly string[], facts: Pick<AccountFacts, 'unionId' | 'userId'>): boolean {
  return ids.some((id) => id === facts.unionId || (facts.userId !== null && id === facts.userId));
}

export function isRuleKind(value: unknown): value is RuleKind {
  return typeof value === 'string' && (RULE_KINDS as readonly string[]).includes(value);
}

/**
 * Checks and normalises a rule as typed by an admin (CLI, console): department ids as numbers,
 * strings trimmed and de-duplicated, flags as booleans (default `true`). Throws `roles.invalid_rule`
 * (400) saying what is wrong.
 */
export function parseRuleDefinition(input: { kind: unknown; value?: unknown; includeSubDepartments?: unknown }): RuleDefinition {
  const { kind } = input;
  if (!isRuleKind(kind)) {
    throw invalidRule(`unknown rule kind ${JSON.stringify(kind)} (one of: ${RULE_KINDS.join(', ')})`);
  }
  const includeSubDepartments = input.includeSubDepartments === true;
  if (includeSubDepartments && kind !== 'department') {
    throw invalidRule('sub-departments apply to department rules only');
  }
  const list = input.value === undefined ? [] : Array.isArray(input.value) ? (input.value as unknown[]) : [input.value];
  switch (kind) {
    case 'department': {
      const ids = list.map((item) => {
        const id = typeof item === 'string' && /^\s*\d+\s*$/.test(item) ? Number(item) : item;
        if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) {
          throw invalidRule(`department ids are positive whole numbers, not ${JSON.stringify(item)}`);
        }
        return id;
      });
      if (ids.length === 0) throw invalidRule('a department rule needs at least one department id');
      return { kind, value: [...new Set(ids)], includeSubDepartments };
    }
    case 'admin':
    case 'boss': {
      if (list.length > 1) throw invalidRule(`an ${kind} rule takes at most one value (true or false)`);
      const item = list[0] ?? true;
      const flag = item === true || item === 'true' ? true : item === false || item === 'false' ? false : undefined;
      if (flag === undefined) throw invalidRule(`an ${kind} rule's value is true or false, not ${JSON.stringify(item)}`);
      return { kind, value: flag, includeSubDepartments };
    }
    case 'dingtalk_role':
    case 'title':
    case 'users': {
      const values = list.map((item) => {
        if (typeof item !== 'string' || item.trim() === '') {
          throw invalidRule(`${kind} values are non-empty strings, not ${JSON.stringify(item)}`);
        }
        return item.trim();
      });
      if (values.length === 0) throw invalidRule(`a ${kind} rule needs at least one value`);
      return { kind, value: [...new Set(values)], includeSubDepartments };
    }
  }
}

/** One line for people: `department 100, 200 (and sub-departments)`, `admin`, `title "HRBP"`. */
export function describeRule(rule: RuleDefinition): string {
  switch (rule.kind) {
    case 'department':
      return `department ${numbers(rule.value).join(', ')}${rule.includeSubDepartments ? ' (and sub-departments)' : ''}`;
    case 'admin':
    case 'boss':
      return rule.value === false ? `not ${rule.kind}` : rule.kind;
    case 'dingtalk_role':
    case 'title':
    case 'users':
      return `${rule.kind} ${strings(rule.value)
        .map((s) => JSON.stringify(s))
        .join(', ')}`;
  }
}

function numbers(value: RuleValue): number[] {
  return Array.isArray(value) ? value.filter((item): item is number => typeof item === 'number') : [];
}

function strings(value: RuleValue): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

function invalidRule(message: string): AppError {
  return new AppError('roles.invalid_rule', message, { status: 400 });
}
