import { type CreationOptional, DataTypes, type InferAttributes, type InferCreationAttributes, Model, type Sequelize } from 'sequelize';

export type AccountStatus = 'active' | 'disabled';

/**
 * A department of the account, as of its last DingTalk refresh. `ancestors` (root first) and `path`
 * are absent on records stored before they were fetched; the next login fills them in.
 */
export interface AccountDepartment {
  id: number;
  name: string;
  ancestors?: number[];
  path?: string;
}

/** A person who signed in with DingTalk. `id` is the OIDC `sub`: stable and never reused. */
export class Account extends Model<InferAttributes<Account>, InferCreationAttributes<Account>> {
  declare id: CreationOptional<string>;
  declare unionId: string;
  declare userId: string | null;
  declare corpId: string | null;
  declare name: string;
  declare nickname: string | null;
  declare avatarUrl: string | null;
  declare email: string | null;
  declare emailVerified: CreationOptional<boolean>;
  declare mobile: string | null;
  declare title: string | null;
  declare jobNumber: string | null;
  /** The direct manager's DingTalk userid (user/get `manager_userid`). */
  declare managerUserId: CreationOptional<string | null>;
  /** When the person joined the organisation (user/get `hired_date`). */
  declare hiredAt: CreationOptional<Date | null>;
  declare departments: CreationOptional<AccountDepartment[]>;
  declare isAdmin: CreationOptional<boolean>;
  declare isBoss: CreationOptional<boolean>;
  /** DingTalk role names (user/get `role_list`), for `dingtalk_role` rules. */
  declare dingtalkRoles: CreationOptional<string[]>;
  declare status: CreationOptional<AccountStatus>;
  declare statusReason: string | null;
  declare lastLoginAt: Date | null;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

export function initAccount(sequelize: Sequelize): typeof Account {
  const AccountModel = class extends Account {};
  AccountModel.init(
    {
      id: { type: DataTypes.UUID, primaryKey: true, defaultValue: DataTypes.UUIDV4 },
      unionId: { type: DataTypes.STRING(128), allowNull: false, unique: true },
      userId: { type: DataTypes.STRING(128), allowNull: true },
      corpId: { type: DataTypes.STRING(128), allowNull: true },
      name: { type: DataTypes.STRING(256), allowNull: false },
      nickname: { type: DataTypes.STRING(256), allowNull: true },
      avatarUrl: { type: DataTypes.TEXT, allowNull: true },
      email: { type: DataTypes.STRING(320), allowNull: true },
      emailVerified: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
      mobile: { type: DataTypes.STRING(32), allowNull: true },
      title: { type: DataTypes.STRING(256), allowNull: true },
      jobNumber: { type: DataTypes.STRING(64), allowNull: true },
      managerUserId: { type: DataTypes.STRING(128), allowNull: true },
      hiredAt: { type: DataTypes.DATE, allowNull: true },
      departments: { type: DataTypes.JSONB, allowNull: false, defaultValue: [] },
      isAdmin: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
      isBoss: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
      dingtalkRoles: { type: DataTypes.JSONB, allowNull: false, defaultValue: [] },
      status: { type: DataTypes.STRING(16), allowNull: false, defaultValue: 'active' },
      statusReason: { type: DataTypes.STRING(256), allowNull: true },
      lastLoginAt: { type: DataTypes.DATE, allowNull: true },
      createdAt: DataTypes.DATE,
      updatedAt: DataTypes.DATE,
    },
    { sequelize, modelName: 'Account', tableName: 'accounts', underscored: true },
  );
  return AccountModel;
}
