import { DataTypes } from 'sequelize';
import type { MigrationContext } from './types.js';

/**
 * Role rules: "who matches this DingTalk record gets this role" (src/accounts/role-rules.ts). The
 * rows a rule derives (account_roles.source = 'rule') point back at it, so removing a rule removes
 * exactly what it gave; re-evaluation rebuilds the rest.
 */
export async function up({ context: { queryInterface } }: { context: MigrationContext }): Promise<void> {
  await queryInterface.createTable('role_rules', {
    id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
    role_id: {
      type: DataTypes.INTEGER,
      allowNull: false,
      references: { model: 'roles', key: 'id' },
      onDelete: 'CASCADE',
    },
    kind: { type: DataTypes.STRING(32), allowNull: false },
    value: { type: DataTypes.JSONB, allowNull: false },
    include_sub_departments: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    description: { type: DataTypes.TEXT, allowNull: true },
    created_at: { type: DataTypes.DATE, allowNull: false },
    updated_at: { type: DataTypes.DATE, allowNull: false },
  });
  await queryInterface.addIndex('role_rules', ['role_id'], { name: 'role_rules_role' });
  // Rule-derived rows from before rules existed cannot name a rule; the next evaluation recreates them.
  await queryInterface.sequelize.query(
    'DELETE FROM account_roles WHERE rule_id IS NOT NULL AND rule_id NOT IN (SELECT id FROM role_rules)',
  );
  await queryInterface.sequelize.query(
    'ALTER TABLE account_roles ADD CONSTRAINT account_roles_rule_fk FOREIGN KEY (rule_id) REFERENCES role_rules (id) ON DELETE CASCADE',
  );
  await queryInterface.addIndex('account_roles', ['rule_id'], { name: 'account_roles_rule' });
}
