import type { Sequelize, Transaction } from 'sequelize';

import type { PendingLogout } from '../../db/models/inbox-event.js';
import type { Deprovisioning } from '../deprovisioning.js';
import type { LogoutTarget } from '../revocation.js';

/** Why a leave event that names nobody is failed (the Stream leave data is unverified, dingtalk-api.md §10.8). */
export const NO_USER_REASON = 'leave event has no userId';

/**
 * The urgent part of a leave, done before the event is acknowledged (and redone by a worker when a
 * crash left it undone): disable the account, revoke its sessions and grants, and store on the item
 * the logout tokens still to send. The targets are appended to the item before anything is revoked.
 */
export type CutOff = (id: string, type: string, userIds: readonly string[], transaction?: Transaction) => Promise<void>;

export function createCutOff(deps: { sequelize: Sequelize; deprovisioning: Deprovisioning }): CutOff {
  const { sequelize, deprovisioning } = deps;

  async function appendLogouts(id: string, accountId: string, targets: LogoutTarget[], transaction?: Transaction): Promise<void> {
    const logouts: PendingLogout[] = targets.map((target) => ({
      accountId,
      clientId: target.clientId,
      ...(target.sid === undefined ? {} : { sid: target.sid }),
    }));
    await sequelize.query('UPDATE inbox_events SET logouts = logouts || CAST(:logouts AS jsonb), updated_at = :now WHERE id = :id', {
      replacements: { id, logouts: JSON.stringify(logouts), now: new Date() },
      ...(transaction ? { transaction } : {}),
    });
  }

  return async function cutOff(id, type, userIds, transaction) {
    await deprovisioning.cutOff(userIds, {
      source: type,
      deferLogouts: (accountId, targets) => appendLogouts(id, accountId, targets, transaction),
    });
  };
}
