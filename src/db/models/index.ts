import type { Sequelize } from 'sequelize';
import { type Account, initAccount } from './account.js';
import { type AuditEvent, initAuditEvent } from './audit-event.js';
import { type Consent, initConsent } from './consent.js';
import { type InboxEvent, initInboxEvent } from './inbox-event.js';
import { type ClientRecord, initClients, type ResourceServerRecord } from './client.js';
import { type AccountRole, initRoles, type Role } from './role.js';
import { initRoleRule, type RoleRule } from './role-rule.js';
import { initSigningKey, type SigningKey } from './signing-key.js';

export interface Models {
  Account: typeof Account;
  Role: typeof Role;
  AccountRole: typeof AccountRole;
  RoleRule: typeof RoleRule;
  ClientRecord: typeof ClientRecord;
  ResourceServerRecord: typeof ResourceServerRecord;
  SigningKey: typeof SigningKey;
  AuditEvent: typeof AuditEvent;
  Consent: typeof Consent;
  InboxEvent: typeof InboxEvent;
}

/**
 * Registers every model on `sequelize`. Each call defines its own model classes (subclasses of
 * the exported ones), so two Database instances in one process (tests, tools) never share state.
 */
export function initModels(sequelize: Sequelize): Models {
  const Account = initAccount(sequelize);
  const { Role, AccountRole } = initRoles(sequelize);
  const RoleRule = initRoleRule(sequelize);
  const { ClientRecord, ResourceServerRecord } = initClients(sequelize);
  const SigningKey = initSigningKey(sequelize);
  const AuditEvent = initAuditEvent(sequelize);
  const Consent = initConsent(sequelize);
  const InboxEvent = initInboxEvent(sequelize);
  Account.hasMany(AccountRole, { foreignKey: 'accountId', onDelete: 'CASCADE' });
  AccountRole.belongsTo(Account, { foreignKey: 'accountId' });
  Role.hasMany(AccountRole, { foreignKey: 'roleId', onDelete: 'CASCADE' });
  AccountRole.belongsTo(Role, { foreignKey: 'roleId' });
  Role.hasMany(RoleRule, { foreignKey: 'roleId', onDelete: 'CASCADE' });
  RoleRule.belongsTo(Role, { foreignKey: 'roleId' });
  return { Account, Role, AccountRole, RoleRule, ClientRecord, ResourceServerRecord, SigningKey, AuditEvent, Consent, InboxEvent };
}

export type { Account, AccountRole, AuditEvent, ClientRecord, Consent, InboxEvent, ResourceServerRecord, Role, RoleRule, SigningKey };
