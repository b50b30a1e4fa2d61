import {
  type CreationOptional,
  DataTypes,
  type ForeignKey,
  type InferAttributes,
  type InferCreationAttributes,
  Model,
  type Sequelize,
} from 'sequelize';
import type { Role } from './role.js';

/**
 * A rule that gives its role to every account whose DingTalk record matches. `kind` and the shape
 * of `value` are defined, validated and evaluated in src/accounts/role-rules.ts; the model stores
 * them as they are.
 */
export class RoleRule extends Model<InferAttributes<RoleRule>, InferCreationAttributes<RoleRule>> {
  declare id: CreationOptional<number>;
  declare roleId: ForeignKey<Role['id']>;
  /** `department`, `admin`, `boss`, `dingtalk_role`, `title` or `users`. */
  declare kind: string;
  declare value: unknown;
  /** `department` rules only: also match the members of sub-departments. */
  declare includeSubDepartments: CreationOptional<boolean>;
  declare description: string | null;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

export function initRoleRule(sequelize: Sequelize): typeof RoleRule {
  const RoleRuleModel = class extends RoleRule {};
  RoleRuleModel.init(
    {
      id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
      kind: { type: DataTypes.STRING(32), allowNull: false },
      value: { type: DataTypes.JSONB, allowNull: false },
      includeSubDepartments: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
      description: { type: DataTypes.TEXT, allowNull: true },
      createdAt: DataTypes.DATE,
      updatedAt: DataTypes.DATE,
    },
    { sequelize, modelName: 'RoleRule', tableName: 'role_rules', underscored: true },
  );
  return RoleRuleModel;
}
