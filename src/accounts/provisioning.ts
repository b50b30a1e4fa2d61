import { type Sequelize, UniqueConstraintError } from 'sequelize';
import type { UpstreamIdentity } from '../dingtalk/index.js';
import type { Account } from '../db/models/account.js';
import type { Models } from '../db/models/index.js';
import { AccountError } from '../errors/app-error.js';
import type { AccessChanges } from './access-changes.js';
import type { AuditLog } from './audit.js';
import { accountProfile, newAccount } from './profile.js';
import type { RoleChange, RoleService } from './roles.js';

export interface ProvisioningOptions {
  /**
   * When DingTalk gives no email, `<preferred username>@<domain>` is used so apps that require an
   * email keep working; such an address is never marked verified.
   */
  emailFallbackDomain?: string;
  /** Re-evaluates the account's role rules at every sign-in, in the sign-in's transaction. */
  roles?: RoleService;
  /** Where role changes found at sign-in are recorded (`account.roles_changed`). */
  audit?: AuditLog;
  /** Revokes grants at other apps that a role lost or a department move at sign-in takes away. */
  access?: Pick<AccessChanges, 'accountChanged'>;
}

/**
 * DingTalk identity → local account. The account is found by unionId (stable across the
 * developer's apps, §6.2 gotcha 3) and refreshed from DingTalk at every login through the one
 * mapping of profile.ts (a field the login did not read is kept); its id (`sub`) never changes. A disabled account is refused. With a role service, the account's role rules are
 * re-evaluated in the same transaction.
 */
export function createProvisioning(sequelize: Sequelize, models: Models, options: ProvisioningOptions = {}) {
  const { Account } = models;

  return {
    async find(accountId: string): Promise<Account | null> {
      return Account.findByPk(accountId);
    },
    /** Create or refresh the account of a DingTalk user who just signed in; throws if disabled. */
    async signIn(identity: UpstreamIdentity): Promise<Account> {
      const upsert = () =>
        sequelize.transaction(async (transaction) => {
          const existing = await Account.findOne({
            where: { unionId: identity.unionId },
            transaction,
            lock: transaction.LOCK.UPDATE,
          });
          if (existing?.status === 'disabled') {
            throw new AccountError('account.disabled', 'the account is disabled');
          }
          // The one identity → account mapping (profile.ts): a field the sign-in did not read stays.
          const profile = { ...accountProfile(identity, existing, options), lastLoginAt: new Date() };
          const departmentsBefore = existing ? JSON.stringify(existing.departments ?? []) : undefined;
          const account = existing
            ? await existing.update(profile, { transaction })
            : await Account.create(newAccount(profile, identity), { transaction });
          const moved = departmentsBefore !== undefined && departmentsBefore !== JSON.stringify(account.departments ?? []);
          // Same transaction: the roles a login's tokens carry always match the record just stored.
          const change: RoleChange | undefined = await options.roles?.reevaluate(account, { transaction });
          return { account, change, moved };
        });
      let result: Awaited<ReturnType<typeof upsert>>;
      try {
        result = await upsert();
      } catch (error) {
        // The same person's first sign-in in two tabs at once: the other one created the row first
        // (the row lock cannot cover a row that does not exist yet). Once more, now as an update.
        if (!(error instanceof UniqueConstraintError)) throw error;
        result = await upsert();
      }
      const { account, change, moved } = result;
      if (change && change.added.length + change.removed.length > 0) {
        await options.audit?.record({
          type: 'account.roles_changed',
          actor: 'login',
          accountId: account.id,
          details: { added: change.added, removed: change.removed },
        });
      }
      if (moved || (change?.removed.length ?? 0) > 0) {
        await options.access?.accountChanged(account.id, { actor: 'login', reason: 'signed_in' });
      }
      return account;
    },
  };
}

export type Provisioning = ReturnType<typeof createProvisioning>;
