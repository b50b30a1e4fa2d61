/**
 * Roles, manual assignments and role rules for operators: each change goes through the role
 * service (accounts/roles.ts), is audited, and the grants it takes away are revoked
 * (accounts/access-changes.ts).
 */
import type { AccessChanges } from '../../accounts/access-changes.js';
import type { RoleChange, RoleService, RuleInput } from '../../accounts/roles.js';
import type { Actor, AuditRecorder } from './actor.js';

export interface RoleOpsDeps {
  roles: RoleService;
  record: AuditRecorder;
  /** Revokes grants that role changes take away. */
  access?: Pick<AccessChanges, 'rolesChanged'>;
}

/** Rule fields as the role service takes them; `value` may be one value or a list. */
export interface RuleFields {
  kind: string;
  value?: unknown;
  includeSubDepartments?: boolean;
}

export function createRoleOps(deps: RoleOpsDeps) {
  const { roles, record } = deps;

  async function recordChanges(actor: Actor, changes: readonly RoleChange[]): Promise<void> {
    for (const change of changes) {
      if (change.added.length + change.removed.length === 0) continue;
      await record(actor, {
        type: 'account.roles_changed',
        accountId: change.accountId,
        details: { added: change.added, removed: change.removed },
      });
    }
    await deps.access?.rolesChanged(changes, { actor: actor.accountId });
  }

  return {
    listRoles: () => roles.listRoles(),
    listRules: () => roles.listRules(),
    previewRule: (input: RuleFields) => roles.preview(input),

    async createRole(name: string, description: string | null | undefined, actor: Actor) {
      const role = await roles.addRole(name, description);
      await record(actor, { type: 'role.created', details: { role: role.name } });
      return role;
    },

    async deleteRole(name: string, actor: Actor) {
      const changes = await roles.removeRole(name);
      await record(actor, { type: 'role.removed', details: { role: name, accounts: changes.length } });
      await recordChanges(actor, changes);
      return { role: name, accounts: changes.length };
    },

    async assignRole(name: string, ref: string, actor: Actor) {
      const change = await roles.assign(name, ref);
      await record(actor, { type: 'role.assigned', accountId: change.accountId, details: { role: name } });
      await recordChanges(actor, [change]);
      return change;
    },

    /** `undefined` when the account had no manual assignment of the role. */
    async unassignRole(name: string, ref: string, actor: Actor) {
      const change = await roles.unassign(name, ref);
      if (!change) return undefined;
      await record(actor, { type: 'role.unassigned', accountId: change.accountId, details: { role: name } });
      await recordChanges(actor, [change]);
      return change;
    },

    async addRule(input: RuleInput, actor: Actor) {
      const { rule, changes } = await roles.addRule(input);
      await record(actor, {
        type: 'role_rule.created',
        details: { rule: rule.id, role: rule.role, kind: rule.kind, value: rule.value, includeSubDepartments: rule.includeSubDepartments },
      });
      await recordChanges(actor, changes);
      return { rule, changes };
    },

    async removeRule(id: number, actor: Actor) {
      const { rule, changes } = await roles.removeRule(id);
      await record(actor, { type: 'role_rule.removed', details: { rule: rule.id, role: rule.role, kind: rule.kind, value: rule.value } });
      await recordChanges(actor, changes);
      return { rule, changes };
    },
  };
}

export type RoleOps = ReturnType<typeof createRoleOps>;
