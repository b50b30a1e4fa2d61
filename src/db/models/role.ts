import {
  type CreationOptional,
  DataTypes,
  type ForeignKey,
  type InferAttributes,
  type InferCreationAttributes,
  Model,
  type Sequelize,
} from 'sequelize';
import type { Account } from './account.js';

/** A named role, e.g. `admin`, `grafana-editor`; its name is what tokens carry. */
export class Role extends Model<InferAttributes<Role>, InferCreationAttributes<Role>> {
  declare id: CreationOptional<number>;
  declare name: string;
  declare description: string | null;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

/**
 * Where an account's role comes from: set by hand, derived from a rule (`ruleId` says which), or
 * from the configuration (`admin` for ADMIN_DINGTALK_USERIDS, no rule). Only `manual` survives
 * re-evaluation untouched; the other two are recomputed.
 */
export type AccountRoleSource = 'manual' | 'rule' | 'config';

export class AccountRole extends Model<InferAttributes<AccountRole>, InferCreationAttributes<AccountRole>> {
  declare id: CreationOptional<number>;
  declare accountId: ForeignKey<Account['id']>;
  declare roleId: ForeignKey<Role['id']>;
  declare source: AccountRoleSource;
  declare ruleId: number | null;
  declare createdAt: CreationOptional<Date>;
}

export function initRoles(sequelize: Sequelize): { Role: typeof Role; AccountRole: typeof AccountRole } {
  const RoleModel = class extends Role {};
  RoleModel.init(
    {
      id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
      name: { type: DataTypes.STRING(128), allowNull: false, unique: true },
      description: { type: DataTypes.TEXT, allowNull: true },
      createdAt: DataTypes.DATE,
      updatedAt: DataTypes.DATE,
    },
    { sequelize, modelName: 'Role', tableName: 'roles', underscored: true },
  );
  const AccountRoleModel = class extends AccountRole {};
  AccountRoleModel.init(
    {
      id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
      source: { type: DataTypes.STRING(16), allowNull: false },
      ruleId: { type: DataTypes.INTEGER, allowNull: true },
      createdAt: DataTypes.DATE,
    },
    { sequelize, modelName: 'AccountRole', tableName: 'account_roles', underscored: true, updatedAt: false },
  );
  return { Role: RoleModel, AccountRole: AccountRoleModel };
}
