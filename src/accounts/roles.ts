import { Op, QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import type { Account } from '../db/models/account.js';
import type { Models } from '../db/models/index.js';
import type { AccountRole, AccountRoleSource } from '../db/models/role.js';
import type { RoleRule } from '../db/models/role-rule.js';
import { AppError } from '../errors/app-error.js';
import { type AccountFacts, evaluate, isListedUser, matches, parseRuleDefinition, type Rule, type RuleDefinition } from './role-rules.js';

/** The role ADMIN_DINGTALK_USERIDS always gives. */
export const ADMIN_ROLE = 'admin';

/** Role names travel in tokens (`roles`, `groups`), so they are plain, lower-case ASCII and never renamed. */
export const ROLE_NAME_PATTERN = /^[a-z0-9][a-z0-9._:-]{0,63}$/;

export function isValidRoleName(name: string): boolean {
  return ROLE_NAME_PATTERN.test(name);
}

export interface RoleServiceOptions {
  /** DingTalk userids and/or unionIds that always get {@link ADMIN_ROLE} (config.adminDingtalkUserids). */
  adminDingtalkUserids: readonly string[];
}

export interface RoleSummary {
  id: number;
  name: string;
  description: string | null;
  /** Accounts holding the role, from any source. */
  accounts: number;
  rules: number;
}

/** A stored rule, with the name of its role. */
export interface RuleRecord extends Rule {
  description: string | null;
  createdAt: Date;
}

/** What an admin types to create a rule; checked by `parseRuleDefinition`. */
export interface RuleInput {
  role: string;
  kind: string;
  value?: unknown;
  includeSubDepartments?: boolean;
  description?: string | null;
}

/** How an account's effective roles (all sources together) changed: what to audit. */
export interface RoleChange {
  accountId: string;
  added: string[];
  removed: string[];
}

/** One role of an account and why it has it. */
export interface RoleAssignment {
  role: string;
  /** `manual`, `rule` (see `rule`) or `config` (ADMIN_DINGTALK_USERIDS). */
  source: AccountRoleSource;
  rule: RuleRecord | null;
  since: Date;
}

/** An account as a preview or a listing shows it. */
export interface AccountSummary {
  id: string;
  name: string;
  userId: string | null;
  unionId: string;
}

type AccountRoleWithRole = AccountRole & { Role?: { name: string } };
type RoleRuleWithRole = RoleRule & { Role?: { name: string } };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Roles, manual assignments and role rules (Postgres). An account's roles come from three sources
 * kept apart in `account_roles`: `manual` rows are only ever touched by assign/unassign; `rule` rows
 * (one per matching rule) and the `config` row (`admin` for ADMIN_DINGTALK_USERIDS) are recomputed
 * by {@link reevaluate} at every login and after every rule change. Mutations return how effective
 * roles changed, for the caller's audit log.
 */
export function createRoleService(sequelize: Sequelize, models: Models, options: RoleServiceOptions) {
  const { Account, Role, AccountRole, RoleRule } = models;
  const adminIds = [...options.adminDingtalkUserids];

  /** In a transaction the role is key-share locked: it cannot be deleted before the assignment lands. */
  async function findRole(name: string, transaction?: Transaction) {
    const role = await Role.findOne({ where: { name }, ...(transaction ? { transaction, lock: transaction.LOCK.KEY_SHARE } : {}) });
    if (!role) throw new AppError('roles.not_found', `no role "${name}"`, { status: 404 });
    return role;
  }

  /** The admin role's id, creating the role on first use (concurrent logins may race to it). */
  async function ensureAdminRole(transaction: Transaction): Promise<number> {
    const existing = await Role.findOne({ where: { name: ADMIN_ROLE }, attributes: ['id'], transaction, lock: transaction.LOCK.KEY_SHARE });
    if (existing) return existing.id;
    await sequelize.query(
      `INSERT INTO roles (name, description, created_at, updated_at)
       VALUES (:name, :description, now(), now()) ON CONFLICT (name) DO NOTHING`,
      { replacements: { name: ADMIN_ROLE, description: 'Administrators (ADMIN_DINGTALK_USERIDS)' }, transaction },
    );
    return (await findRole(ADMIN_ROLE, transaction)).id;
  }

  function toRuleRecord(row: RoleRule, role: string): RuleRecord | undefined {
    try {
      const definition = parseRuleDefinition({
        kind: row.kind,
        value: row.value,
        includeSubDepartments: row.includeSubDepartments,
      });
      return { id: row.id, role, ...definition, description: row.description, createdAt: row.createdAt };
    } catch {
      // A row edited by hand into something invalid gives nothing rather than failing every login.
      return undefined;
    }
  }

  /**
   * Every valid rule with its role. In a transaction the rules and their roles are key-share locked,
   * so a rule or role removed meanwhile waits for the rows derived from it (and its cascade then
   * removes them) instead of those rows failing their foreign key.
   */
  async function loadRules(transaction?: Transaction): Promise<(RuleRecord & { roleId: number })[]> {
    const rows = (await RoleRule.findAll({
      include: [{ model: Role, attributes: ['name'], required: true }],
      order: [['id', 'ASC']],
      ...(transaction ? { transaction, lock: transaction.LOCK.KEY_SHARE } : {}),
    })) as RoleRuleWithRole[];
    return rows.flatMap((row) => {
      const rule = toRuleRecord(row, row.Role?.name ?? '');
      return rule ? [{ ...rule, roleId: row.roleId }] : [];
    });
  }

  async function rowsOf(accountId: string, transaction?: Transaction): Promise<AccountRoleWithRole[]> {
    return (await AccountRole.findAll({
      where: { accountId },
      include: [{ model: Role, attributes: ['name'] }],
      order: [['id', 'ASC']],
      ...(transaction ? { transaction } : {}),
    })) as AccountRoleWithRole[];
  }

  function namesOf(rows: readonly { Role?: { name: string } }[]): string[] {
    return sortedUnique(rows.map((row) => row.Role?.name).filter((name): name is string => name !== undefined));
  }

  async function findAccount(ref: string, transaction?: Transaction): Promise<Account> {
    const scope = transaction ? { transaction } : {};
    if (UUID.test(ref)) {
      const byId = await Account.findByPk(ref.toLowerCase(), scope);
      if (byId) return byId;
    }
    const found = await Account.findAll({ where: { [Op.or]: [{ userId: ref }, { unionId: ref }] }, limit: 2, ...scope });
    if (found.length > 1) {
      throw new AppError('accounts.ambiguous', `"${ref}" names more than one account; use the account id`, { status: 409 });
    }
    const [account] = found;
    if (!account) throw new AppError('accounts.not_found', `no account "${ref}" (id, DingTalk userid or unionId)`, { status: 404 });
    return account;
  }

  /** Effective roles before and after `change` runs, inside one transaction holding the account row. */
  async function changing(accountId: string, transaction: Transaction, change: () => Promise<void>): Promise<RoleChange> {
    const before = namesOf(await rowsOf(accountId, transaction));
    await change();
    const after = namesOf(await rowsOf(accountId, transaction));
    return diff(accountId, before, after);
  }

  async function reevaluateIn(accountId: string, transaction: Transaction): Promise<RoleChange> {
    // Serialises concurrent evaluations of one account (two logins at once, a login during a rule change).
    const account = await Account.findByPk(accountId, { transaction, lock: transaction.LOCK.UPDATE });
    if (!account) throw new AppError('accounts.not_found', `no account "${accountId}"`, { status: 404 });
    const rules = await loadRules(transaction);
    const facts = factsOf(account);

    const wanted = new Map<string, { roleId: number; source: AccountRoleSource; ruleId: number | null }>();
    const roleIdOf = new Map(rules.map((rule) => [rule.role, rule.roleId]));
    for (const [role, ruleIds] of evaluate(rules, facts)) {
      const roleId = roleIdOf.get(role)!;
      for (const ruleId of ruleIds) wanted.set(keyOf('rule', roleId, ruleId), { roleId, source: 'rule', ruleId });
    }
    if (isListedUser(adminIds, facts)) {
      const roleId = await ensureAdminRole(transaction);
      wanted.set(keyOf('config', roleId, null), { roleId, source: 'config', ruleId: null });
    }

    const rows = await rowsOf(account.id, transaction);
    const before = namesOf(rows);
    const derived = rows.filter((row) => row.source !== 'manual');
    const stale = derived.filter((row) => !wanted.has(keyOf(row.source, row.roleId, row.ruleId)));
    const kept = new Set(derived.map((row) => keyOf(row.source, row.roleId, row.ruleId)));
    const missing = [...wanted].filter(([key]) => !kept.has(key)).map(([, row]) => row);
    if (stale.length > 0) {
      await AccountRole.destroy({ where: { id: stale.map((row) => row.id) }, transaction });
    }
    if (missing.length > 0) {
      await AccountRole.bulkCreate(
        missing.map((row) => ({ accountId: account.id, ...row })),
        { transaction },
      );
    }
    const after = stale.length + missing.length === 0 ? before : namesOf(await rowsOf(account.id, transaction));
    return diff(account.id, before, after);
  }

  async function reevaluateAll(): Promise<RoleChange[]> {
    const accounts = await Account.findAll({ where: { status: 'active' }, attributes: ['id'], order: [['createdAt', 'ASC']] });
    const changes: RoleChange[] = [];
    for (const { id } of accounts) {
      const change = await sequelize.transaction((transaction) => reevaluateIn(id, transaction));
      if (change.added.length + change.removed.length > 0) changes.push(change);
    }
    return changes;
  }

  return {
    /** Every role with how many accounts hold it and how many rules give it, by name. */
    async listRoles(): Promise<RoleSummary[]> {
      const rows = await sequelize.query<{ id: number; name: string; description: string | null; accounts: string; rules: string }>(
        `SELECT r.id, r.name, r.description,
                (SELECT count(DISTINCT ar.account_id) FROM account_roles ar WHERE ar.role_id = r.id) AS accounts,
                (SELECT count(*) FROM role_rules rr WHERE rr.role_id = r.id) AS rules
           FROM roles r ORDER BY r.name`,
        { type: QueryTypes.SELECT },
      );
      return rows.map((row) => ({ ...row, accounts: Number(row.accounts), rules: Number(row.rules) }));
    },

    /** Creates a role; its name must match {@link ROLE_NAME_PATTERN} and be new. */
    async addRole(name: string, description?: string | null): Promise<RoleSummary> {
      if (!isValidRoleName(name)) {
        throw new AppError(
          'roles.invalid_name',
          `invalid role name "${name}": 1–64 characters of a-z, 0-9, '.', '_', ':', '-', starting with a letter or digit`,
          { status: 400 },
        );
      }
      const [role, created] = await Role.findOrCreate({
        where: { name },
        defaults: { name, description: description?.trim() || null },
      });
      if (!created) throw new AppError('roles.exists', `role "${name}" already exists`, { status: 409 });
      return { id: role.id, name: role.name, description: role.description, accounts: 0, rules: 0 };
    },

    /**
     * Deletes a role with its assignments and rules; returns the accounts that lost it. Removing
     * `admin` while ADMIN_DINGTALK_USERIDS is set only lasts until those people next sign in.
     */
    async removeRole(name: string): Promise<RoleChange[]> {
      // Removing `admin` would lock every administrator out (and ADMIN_DINGTALK_USERIDS brings it back).
      if (name === ADMIN_ROLE) {
        throw new AppError('roles.protected', 'the admin role is built in: unassign it or remove its rules instead', { status: 409 });
      }
      return sequelize.transaction(async (transaction) => {
        const role = await findRole(name, transaction);
        const holders = await AccountRole.findAll({
          where: { roleId: role.id },
          attributes: ['accountId'],
          transaction,
        });
        await role.destroy({ transaction });
        return sortedUnique(holders.map((row) => row.accountId)).map((accountId) => ({ accountId, added: [], removed: [name] }));
      });
    },

    /** Gives a role by hand; kept until unassigned, whatever the rules say. Idempotent. */
    async assign(roleName: string, accountRef: string): Promise<RoleChange> {
      return sequelize.transaction(async (transaction) => {
        const role = await findRole(roleName, transaction);
        const account = await findAccount(accountRef, transaction);
        await Account.findByPk(account.id, { transaction, lock: transaction.LOCK.UPDATE });
        return changing(account.id, transaction, async () => {
          await sequelize.query(
            `INSERT INTO account_roles (account_id, role_id, source, rule_id, created_at)
             VALUES (:accountId, :roleId, 'manual', NULL, now()) ON CONFLICT DO NOTHING`,
            { replacements: { accountId: account.id, roleId: role.id }, transaction },
          );
        });
      });
    },

    /**
     * Takes back a manual assignment; `undefined` when there was none (the role may still come from
     * a rule, which only a rule change removes).
     */
    async unassign(roleName: string, accountRef: string): Promise<RoleChange | undefined> {
      return sequelize.transaction(async (transaction) => {
        const role = await findRole(roleName, transaction);
        const account = await findAccount(accountRef, transaction);
        await Account.findByPk(account.id, { transaction, lock: transaction.LOCK.UPDATE });
        let removed = 0;
        const change = await changing(account.id, transaction, async () => {
          removed = await AccountRole.destroy({
            where: { accountId: account.id, roleId: role.id, source: 'manual' },
            transaction,
          });
        });
        return removed > 0 ? change : undefined;
      });
    },

    /** Every rule, oldest first. */
    async listRules(): Promise<RuleRecord[]> {
      return (await loadRules()).map(withoutRoleId);
    },

    /** Adds a rule, then re-evaluates every active account; returns the rule and who changed. */
    async addRule(input: RuleInput): Promise<{ rule: RuleRecord; changes: RoleChange[] }> {
      const definition = parseRuleDefinition(input);
      const role = await findRole(input.role);
      const row = await RoleRule.create({
        roleId: role.id,
        kind: definition.kind,
        value: definition.value,
        includeSubDepartments: definition.includeSubDepartments,
        description: input.description?.trim() || null,
      });
      const rule: RuleRecord = {
        id: row.id,
        role: role.name,
        ...definition,
        description: row.description,
        createdAt: row.createdAt,
      };
      return { rule, changes: await reevaluateAll() };
    },

    /** Removes a rule and what it gave (accounts keep a role other sources still give). */
    async removeRule(id: number): Promise<{ rule: RuleRecord; changes: RoleChange[] }> {
      return sequelize.transaction(async (transaction) => {
        const row = await RoleRule.findByPk(id, { transaction, lock: transaction.LOCK.UPDATE });
        if (!row) throw new AppError('roles.rule_not_found', `no rule #${id}`, { status: 404 });
        const role = await Role.findByPk(row.roleId, { attributes: ['name'], transaction });
        const rule = toRuleRecord(row, role?.name ?? '') ?? {
          id: row.id,
          role: role?.name ?? '',
          kind: row.kind as RuleRecord['kind'],
          value: [],
          includeSubDepartments: row.includeSubDepartments,
          description: row.description,
          createdAt: row.createdAt,
        };
        const holders = await AccountRole.findAll({ where: { ruleId: id }, attributes: ['accountId'], transaction });
        const accountIds = sortedUnique(holders.map((holder) => holder.accountId));
        const before = new Map<string, string[]>();
        for (const accountId of accountIds) before.set(accountId, namesOf(await rowsOf(accountId, transaction)));
        // account_roles.rule_id cascades: the rule's rows go with it.
        await row.destroy({ transaction });
        const changes: RoleChange[] = [];
        for (const accountId of accountIds) {
          const change = diff(accountId, before.get(accountId) ?? [], namesOf(await rowsOf(accountId, transaction)));
          if (change.removed.length > 0) changes.push(change);
        }
        return { rule, changes };
      });
    },

    /**
     * Replaces the account's rule- and config-derived roles with the current evaluation of its stored
     * DingTalk record, in one transaction (the given one, e.g. the login's upsert, or a new one);
     * manual assignments are never touched.
     */
    async reevaluate(account: Account | string, opts: { transaction?: Transaction } = {}): Promise<RoleChange> {
      const accountId = typeof account === 'string' ? account : account.id;
      if (opts.transaction) return reevaluateIn(accountId, opts.transaction);
      return sequelize.transaction((transaction) => reevaluateIn(accountId, transaction));
    },

    /** {@link reevaluate} for every active account; returns only the accounts whose roles changed. */
    reevaluateAll,

    /** The account's effective role names, sorted, each once: what tokens carry. */
    async rolesOf(accountId: string): Promise<string[]> {
      return namesOf(await rowsOf(accountId));
    },

    /** Each role of the account with its source (and rule), by role name. */
    async assignmentsOf(accountId: string): Promise<RoleAssignment[]> {
      const rows = await rowsOf(accountId);
      const rules = new Map((await loadRules()).map((rule) => [rule.id, rule]));
      return rows
        .map((row): RoleAssignment => {
          const rule = row.ruleId === null ? undefined : rules.get(row.ruleId);
          return { role: row.Role?.name ?? '', source: row.source, rule: rule ? withoutRoleId(rule) : null, since: row.createdAt };
        })
        .sort((a, b) => compare(a.role, b.role) || compare(a.source, b.source) || (a.rule?.id ?? 0) - (b.rule?.id ?? 0));
    },

    /** Active accounts a rule would match as they are stored now, by name (nothing is written). */
    async preview(input: { kind: string; value?: unknown; includeSubDepartments?: boolean }): Promise<AccountSummary[]> {
      const definition: RuleDefinition = parseRuleDefinition(input);
      const accounts = await Account.findAll({
        where: { status: 'active' },
        attributes: ['id', 'name', 'unionId', 'userId', 'title', 'departments', 'isAdmin', 'isBoss', 'dingtalkRoles'],
      });
      return accounts
        .filter((account) => matches(definition, factsOf(account)))
        .map((account) => ({ id: account.id, name: account.name, userId: account.userId, unionId: account.unionId }))
        .sort((a, b) => compare(a.name, b.name) || compare(a.id, b.id));
    },

    /** An account by id, DingTalk userid or unionId; `accounts.not_found` / `accounts.ambiguous` otherwise. */
    async findAccount(ref: string): Promise<Account> {
      return findAccount(ref);
    },
  };
}

export type RoleService = ReturnType<typeof createRoleService>;

/** What rules see of a stored account. */
export function factsOf(account: Account): AccountFacts {
  return {
    unionId: account.unionId,
    userId: account.userId,
    departments: account.departments ?? [],
    isAdmin: account.isAdmin,
    isBoss: account.isBoss,
    dingtalkRoles: account.dingtalkRoles ?? [],
    title: account.title,
  };
}

function withoutRoleId({ roleId: _roleId, ...rule }: RuleRecord & { roleId: number }): RuleRecord {
  return rule;
}

function keyOf(source: AccountRoleSource, roleId: number, ruleId: number | null): string {
  return `${source}:${roleId}:${ruleId ?? 0}`;
}

function diff(accountId: string, before: readonly string[], after: readonly string[]): RoleChange {
  const was = new Set(before);
  const is = new Set(after);
  return {
    accountId,
    added: after.filter((name) => !was.has(name)),
    removed: before.filter((name) => !is.has(name)),
  };
}

function sortedUnique(values: readonly string[]): string[] {
  return [...new Set(values)].sort(compare);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
