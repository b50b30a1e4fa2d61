import type { Sequelize } from 'sequelize';
import type { UpstreamIdentity } from '../dingtalk/identity.js';
import type { Account } from '../db/models/account.js';
import type { Models } from '../db/models/index.js';
import { AccountError } from '../errors/app-error.js';

export interface ProvisioningOptions {
  /**
   * When DingTalk gives no email, `<preferred username>@<domain>` is used so apps that require an
   * email keep working; such an address is never marked verified.
   */
  emailFallbackDomain?: string;
}

/**
 * DingTalk identity → local account. The account is found by unionId (stable across the
 * developer's apps, §6.2 gotcha 3) and refreshed from DingTalk at every login; its id (`sub`)
 * never changes. A disabled account is refused.
 */
export function createProvisioning(sequelize: Sequelize, models: Models, options: ProvisioningOptions = {}) {
  const { Account } = models;

  function profileOf(identity: UpstreamIdentity) {
    let email = identity.email ?? null;
    let emailVerified = identity.email ? identity.emailVerified : false;
    const login = identity.userId ?? identity.jobNumber;
    if (!email && options.emailFallbackDomain && login && /^[\w.+-]+$/.test(login)) {
      email = `${login}@${options.emailFallbackDomain}`.toLowerCase();
      emailVerified = false;
    }
    return {
      unionId: identity.unionId,
      userId: identity.userId ?? null,
      corpId: identity.corpId ?? null,
      name: identity.name,
      nickname: identity.nickname,
      avatarUrl: identity.avatarUrl ?? null,
      email,
      emailVerified,
      mobile: identity.mobile ?? null,
      title: identity.title ?? null,
      jobNumber: identity.jobNumber ?? null,
      departments: identity.departments,
      isAdmin: identity.isAdmin,
      isBoss: identity.isBoss,
    };
  }

  return {
    async find(accountId: string): Promise<Account | null> {
      return Account.findByPk(accountId);
    },
    /** Create or refresh the account of a DingTalk user who just signed in; throws if disabled. */
    async signIn(identity: UpstreamIdentity): Promise<Account> {
      return sequelize.transaction(async (transaction) => {
        const profile = { ...profileOf(identity), lastLoginAt: new Date() };
        const existing = await Account.findOne({
          where: { unionId: identity.unionId },
          transaction,
          lock: transaction.LOCK.UPDATE,
        });
        if (existing?.status === 'disabled') {
          throw new AccountError('account.disabled', 'the account is disabled');
        }
        if (existing) return existing.update(profile, { transaction });
        return Account.create(profile, { transaction });
      });
    },
  };
}

export type Provisioning = ReturnType<typeof createProvisioning>;
