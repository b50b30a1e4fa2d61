/**
 * Sessions and grants across accounts for operators: list, end one session, end what an account
 * has at one app, and forget a deleted app everywhere. Sessions and grants live in oidc-provider's
 * store (Redis), found per account through the account index.
 */
import type Provider from 'oidc-provider';
import { Op, type WhereOptions } from 'sequelize';
import type { ConsentStore } from '../../accounts/consents.js';
import { type BackchannelDelivery, type LogoutTarget, revokeGrant, sendLogouts } from '../../accounts/revocation.js';
import type { RoleService } from '../../accounts/roles.js';
import type { Account } from '../../db/models/account.js';
import type { Models } from '../../db/models/index.js';
import { AppError } from '../../errors/app-error.js';
import type { ClientStore } from '../../oidc/clients.js';
import type { AccountIndex } from '../../store/account-index.js';
import type { Actor, AuditRecorder } from './actor.js';
import { clientNames } from './clients.js';
import type { Paged } from './paging.js';

export interface SessionItem {
  accountId: string;
  accountName: string;
  /** The session's uid (not its id, which is a browser's cookie value). */
  uid: string;
  signedInAt: Date | null;
  expiresAt: Date | null;
  apps: { clientId: string; name: string }[];
}

export interface SessionOpsDeps {
  models: Pick<Models, 'Account' | 'Consent'>;
  consents: ConsentStore;
  clientStore: ClientStore;
  accountIndex: AccountIndex;
  roles: RoleService;
  provider: () => Provider;
  record: AuditRecorder;
}

/** The back-channel logout tokens a revocation sent: every attempt, and the failed ones again. */
export interface Notified {
  backchannel: BackchannelDelivery[];
  failures: BackchannelDelivery[];
}

function notified(backchannel: BackchannelDelivery[]): Notified {
  return { backchannel, failures: backchannel.filter((delivery) => !delivery.ok) };
}

export function createSessionOps(deps: SessionOpsDeps) {
  /**
   * Detaches one app from one account: revokes the account's grants at the app (with every token
   * issued under them) and removes the app from the account's sessions, so the next visit asks the
   * provider again. Returns the grants revoked and the sessions' logout targets at that app.
   */
  async function detachClient(
    provider: Provider,
    accountId: string,
    clientId: string,
  ): Promise<{ grantIds: Set<string>; targets: LogoutTarget[] }> {
    const grantIds = new Set<string>();
    for (const id of await deps.accountIndex.grantIds(accountId)) {
      const grant = await provider.Grant.find(id);
      if (grant && grant.accountId === accountId && grant.clientId === clientId) grantIds.add(id);
    }
    const targets: LogoutTarget[] = [];
    for (const id of await deps.accountIndex.sessionIds(accountId)) {
      const session = await provider.Session.find(id);
      const authorization = session?.accountId === accountId ? session.authorizations?.[clientId] : undefined;
      if (!session || !authorization) continue;
      if (authorization.grantId) grantIds.add(authorization.grantId);
      targets.push({ clientId, sid: authorization.sid });
      delete session.authorizations![clientId];
      const ttl = (session.exp ?? 0) - Math.floor(Date.now() / 1000);
      if (ttl > 0) await session.save(ttl);
    }
    await Promise.all([...grantIds].map((id) => revokeGrant(provider, id)));
    return { grantIds, targets };
  }

  const { models, record } = deps;
  const { Account, Consent } = models;

  /** The account a filter names (by id, userid or unionId), or undefined for all. */
  async function accountFilter(ref: string | undefined): Promise<Account | undefined> {
    return ref ? deps.roles.findAccount(ref) : undefined;
  }

  async function sessionsOf(account: Account, nameOf: (id: string) => string): Promise<SessionItem[]> {
    const provider = deps.provider();
    const ids = await deps.accountIndex.sessionIds(account.id);
    const found = await Promise.all(ids.map((id) => provider.Session.find(id)));
    return found
      .filter((s) => s !== undefined && s.accountId === account.id)
      .map((session) => ({
        accountId: account.id,
        accountName: account.name,
        uid: session!.uid,
        signedInAt: session!.loginTs ? new Date(session!.loginTs * 1000) : null,
        expiresAt: session!.exp ? new Date(session!.exp * 1000) : null,
        apps: Object.keys(session!.authorizations ?? {}).map((clientId) => ({ clientId, name: nameOf(clientId) })),
      }))
      .sort((a, b) => (b.signedInAt?.getTime() ?? 0) - (a.signedInAt?.getTime() ?? 0));
  }

  return {
    /**
     * Sessions, newest first. Sessions are indexed per account only, so the pages go over the
     * accounts that have signed in (most recent login first): `total` counts those accounts, and
     * a page holds the sessions of `pageSize` of them (with `client`, those that used the app).
     */
    async listSessions(query: {
      account?: string;
      client?: string;
      page: number;
      pageSize: number;
    }): Promise<Paged<SessionItem> & { unit: 'accounts' }> {
      const one = await accountFilter(query.account);
      const map = await clientNames(deps.clientStore);
      const nameOf = (id: string) => map.get(id) ?? id;
      let accounts: Account[];
      let total: number;
      if (one) {
        accounts = [one];
        total = 1;
      } else {
        const { rows, count } = await Account.findAndCountAll({
          where: { lastLoginAt: { [Op.ne]: null } } as WhereOptions<Account>,
          order: [
            ['lastLoginAt', 'DESC'],
            ['id', 'ASC'],
          ],
          limit: query.pageSize,
          offset: (query.page - 1) * query.pageSize,
        });
        accounts = rows;
        total = count;
      }
      const items = (await Promise.all(accounts.map((account) => sessionsOf(account, nameOf))))
        .flat()
        .filter((session) => !query.client || session.apps.some((app) => app.clientId === query.client));
      return { items, page: query.page, pageSize: query.pageSize, total, unit: 'accounts' };
    },

    /**
     * Ends one session (by uid) and the grants of the apps it signed in to, then sends each of those
     * apps that registered a `backchannel_logout_uri` a logout token with its `sid` for this session
     * (the person's other sessions stay). As in revokeAccount: the kill first, the notifications last,
     * and a failed delivery is audited and returned, never thrown.
     */
    async revokeSession(uid: string, actor: Actor): Promise<{ uid: string; accountId: string; grants: number } & Notified> {
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(uid)) throw new AppError('sessions.not_found', 'no such session', { status: 404 });
      const provider = deps.provider();
      const session = await provider.Session.findByUid(uid);
      if (!session?.accountId) throw new AppError('sessions.not_found', 'no such session', { status: 404 });
      const authorizations = Object.entries(session.authorizations ?? {});
      const grantIds = authorizations
        .map(([, authorization]) => authorization.grantId)
        .filter((id): id is string => typeof id === 'string');
      await Promise.all(grantIds.map((id) => revokeGrant(provider, id)));
      await session.destroy();
      const targets: LogoutTarget[] = authorizations.map(([clientId, authorization]) => ({ clientId, sid: authorization.sid }));
      const backchannel = await sendLogouts(provider, session.accountId, targets);
      await record(actor, {
        type: 'session.revoked',
        accountId: session.accountId,
        details: { session: uid, apps: authorizations.map(([clientId]) => clientId), backchannel },
      });
      return { uid, accountId: session.accountId, grants: grantIds.length, ...notified(backchannel) };
    },

    /**
     * Ends what an account has at one app: its grants (with every token issued under them) and the
     * app's place in the account's sessions, so the next visit asks the provider again; then sends
     * that app (and no other) a logout token for each of those sessions. With `consent`, the
     * remembered consent goes too. Failed deliveries are audited and returned, never thrown.
     */
    async revokeAccountApp(ref: string, clientId: string, actor: Actor, options: { consent?: boolean } = {}) {
      const account = await deps.roles.findAccount(ref);
      const provider = deps.provider();
      const { grantIds, targets } = await detachClient(provider, account.id, clientId);
      const consents = options.consent ? await deps.consents.revoke(account.id, clientId) : 0;
      const backchannel = await sendLogouts(provider, account.id, targets);
      const sessions = targets.length;
      await record(actor, {
        type: 'account.app_revoked',
        accountId: account.id,
        details: { client: clientId, grants: grantIds.size, sessions, consents, backchannel },
      });
      return { accountId: account.id, clientId, grants: grantIds.size, sessions, consents, ...notified(backchannel) };
    },

    /**
     * Forgets an app that was deleted: every remembered consent for it, every grant of it (with the
     * tokens issued under them) and its place in every session, so that an app registered later
     * under the same client id starts from nothing and its users see the consent page again.
     * Sessions and grants are indexed per account only: this walks the accounts that have signed
     * in, which is slow on a large directory but only runs when a client is deleted.
     */
    async forgetClient(clientId: string): Promise<{ consents: number; grants: number; sessions: number }> {
      const provider = deps.provider();
      const withConsent = (await Consent.findAll({ where: { clientId }, attributes: ['accountId'] })).map((row) => row.accountId);
      const consents = await Consent.destroy({ where: { clientId } });
      let grants = 0;
      let sessions = 0;
      const forget = async (accountId: string): Promise<void> => {
        const detached = await detachClient(provider, accountId, clientId);
        sessions += detached.targets.length;
        grants += detached.grantIds.size;
      };
      const seen = new Set<string>();
      for (const accountId of withConsent) {
        seen.add(accountId);
        await forget(accountId);
      }
      const batch = 500;
      for (let offset = 0; ; offset += batch) {
        const rows = await Account.findAll({
          where: { lastLoginAt: { [Op.ne]: null } } as WhereOptions<Account>,
          attributes: ['id'],
          order: [['id', 'ASC']],
          limit: batch,
          offset,
        });
        for (const row of rows) if (!seen.has(row.id)) await forget(row.id);
        if (rows.length < batch) break;
      }
      return { consents, grants, sessions };
    },
  };
}

export type SessionOps = ReturnType<typeof createSessionOps>;
