/**
 * Sessions, grants and consents across accounts, signing keys and the DingTalk health check, for
 * the console and the API. Sessions and grants live in oidc-provider's store (Redis), found per
 * account through the account index; consents in Postgres.
 */
import type Provider from 'oidc-provider';
import { Op, type WhereOptions } from 'sequelize';
import type { ConsentStore } from '../accounts/consents.js';
import type { EventInbox } from '../accounts/event-inbox.js';
import { type BackchannelDelivery, type LogoutTarget, revokeGrant, sendLogouts } from '../accounts/revocation.js';
import type { RoleService } from '../accounts/roles.js';
import type { Account } from '../db/models/account.js';
import type { Models } from '../db/models/index.js';
import type { DingTalkClient } from '../dingtalk/client.js';
import type { StreamStatus } from '../dingtalk/stream-client.js';
import type { StatusEntry } from '../store/status-board.js';
import { AppError } from '../errors/app-error.js';
import type { ClientStore } from '../oidc/clients.js';
import type { KeyInfo, KeyStore, SigningAlg } from '../oidc/keys.js';
import type { AccountIndex } from '../store/account-index.js';
import type { Actor, Paged } from './service.js';

export interface SessionItem {
  accountId: string;
  accountName: string;
  /** The session's uid (not its id, which is a browser's cookie value). */
  uid: string;
  signedInAt: Date | null;
  expiresAt: Date | null;
  apps: { clientId: string; name: string }[];
}

export interface ConsentItem {
  accountId: string;
  accountName: string;
  clientId: string;
  name: string;
  scopes: string[];
  claims: string[];
  resourceScopes: Record<string, string[]>;
  updatedAt: Date;
}

export interface HealthCheck {
  name: 'app_token' | 'users_me' | 'getbyunionid' | 'user_get' | 'department_get';
  ok: boolean | null;
  /** What was asked (`unionId …`, `userid …`, `dept 42`). */
  subject: string;
  /** DingTalk's error code and message, or why the check did not run. */
  error?: string;
}

/** How DingTalk's org events reach this deployment, for the DingTalk page. */
export interface DingTalkEventSettings {
  /** Whether DINGTALK_EVENT_TOKEN and DINGTALK_EVENT_AES_KEY are set. */
  token: boolean;
  aesKey: boolean;
  /** DINGTALK_EVENT_MODE. */
  mode?: 'http' | 'stream';
  /** Stream mode: every server process's connection, as each published it (status-board.ts). */
  streamConnections?: () => Promise<StatusEntry<StreamStatus>[]>;
}

export interface SessionOpsDeps {
  issuer: string;
  models: Models;
  consents: ConsentStore;
  clientStore: ClientStore;
  accountIndex: AccountIndex;
  roles: RoleService;
  provider: () => Provider;
  keyStore: KeyStore;
  /** Tell every replica (this one included) that the keys changed: `notifier.publish('keys')`. */
  keysChanged?: () => Promise<void>;
  dingtalk?: DingTalkClient;
  dingtalkEvents?: DingTalkEventSettings;
  /** The event inbox: when the last DingTalk event arrived, whatever it was. */
  inbox?: Pick<EventInbox, 'list'>;
  record: (actor: Actor, entry: { type: string; accountId?: string | null; details?: Record<string, unknown> }) => Promise<unknown>;
}

/** The back-channel logout tokens a revocation sent: every attempt, and the failed ones again. */
export interface Notified {
  backchannel: BackchannelDelivery[];
  failures: BackchannelDelivery[];
}

function notified(backchannel: BackchannelDelivery[]): Notified {
  return { backchannel, failures: backchannel.filter((delivery) => !delivery.ok) };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function createSessionOps(deps: SessionOpsDeps) {
  const { models, record } = deps;
  const { Account, Consent, AuditEvent } = models;

  async function names(): Promise<Map<string, string>> {
    return new Map((await deps.clientStore.list()).map((client) => [client.clientId, client.name]));
  }

  /** The accounts a filter names (by id, userid or unionId), or undefined for all. */
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
      const map = await names();
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
      const grantIds = new Set<string>();
      for (const id of await deps.accountIndex.grantIds(account.id)) {
        const grant = await provider.Grant.find(id);
        if (grant && grant.accountId === account.id && grant.clientId === clientId) grantIds.add(id);
      }
      const targets: LogoutTarget[] = [];
      for (const id of await deps.accountIndex.sessionIds(account.id)) {
        const session = await provider.Session.find(id);
        const authorization = session?.accountId === account.id ? session.authorizations?.[clientId] : undefined;
        if (!session || !authorization) continue;
        if (authorization.grantId) grantIds.add(authorization.grantId);
        targets.push({ clientId, sid: authorization.sid });
        delete session.authorizations![clientId];
        const ttl = (session.exp ?? 0) - Math.floor(Date.now() / 1000);
        if (ttl > 0) await session.save(ttl);
      }
      await Promise.all([...grantIds].map((id) => revokeGrant(provider, id)));
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
        const grantIds = new Set<string>();
        for (const id of await deps.accountIndex.grantIds(accountId)) {
          const grant = await provider.Grant.find(id);
          if (grant?.clientId === clientId) grantIds.add(id);
        }
        for (const id of await deps.accountIndex.sessionIds(accountId)) {
          const session = await provider.Session.find(id);
          const authorization = session?.accountId === accountId ? session.authorizations?.[clientId] : undefined;
          if (!session || !authorization) continue;
          if (authorization.grantId) grantIds.add(authorization.grantId);
          delete session.authorizations![clientId];
          const ttl = (session.exp ?? 0) - Math.floor(Date.now() / 1000);
          if (ttl > 0) await session.save(ttl);
          sessions += 1;
        }
        await Promise.all([...grantIds].map((id) => revokeGrant(provider, id)));
        grants += grantIds.size;
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

    async listConsents(query: { account?: string; client?: string; page: number; pageSize: number }): Promise<Paged<ConsentItem>> {
      const one = await accountFilter(query.account);
      const where: Record<string, unknown> = {};
      if (one) where.accountId = one.id;
      if (query.client) where.clientId = query.client;
      const { rows, count } = await Consent.findAndCountAll({
        where: where as WhereOptions,
        order: [
          ['updatedAt', 'DESC'],
          ['accountId', 'ASC'],
          ['clientId', 'ASC'],
        ],
        limit: query.pageSize,
        offset: (query.page - 1) * query.pageSize,
      });
      const map = await names();
      const accounts = new Map(
        (await Account.findAll({ where: { id: [...new Set(rows.map((row) => row.accountId))] }, attributes: ['id', 'name'] })).map((a) => [
          a.id,
          a.name,
        ]),
      );
      return {
        items: rows.map((row) => ({
          accountId: row.accountId,
          accountName: accounts.get(row.accountId) ?? row.accountId,
          clientId: row.clientId,
          name: map.get(row.clientId) ?? row.clientId,
          scopes: row.scopes,
          claims: row.claims,
          resourceScopes: row.resourceScopes,
          updatedAt: row.updatedAt,
        })),
        page: query.page,
        pageSize: query.pageSize,
        total: count,
      };
    },

    /** Forgets one consent: the app asks again at the next sign-in (its grants stay until they end). */
    async revokeConsent(ref: string, clientId: string, actor: Actor): Promise<{ accountId: string; clientId: string; revoked: boolean }> {
      const account = await deps.roles.findAccount(ref);
      const revoked = (await deps.consents.revoke(account.id, clientId)) > 0;
      if (!revoked) throw new AppError('consents.not_found', `no consent of ${account.id} for ${clientId}`, { status: 404 });
      await record(actor, { type: 'consent.revoked', accountId: account.id, details: { client: clientId } });
      return { accountId: account.id, clientId, revoked };
    },

    // Keys

    listKeys: (): Promise<KeyInfo[]> => deps.keyStore.list(),

    /**
     * A new key for `alg`: published at once, signing after the activation delay, or at once with
     * `immediate`. Every replica is told (notifier), so it serves the new JWKS without waiting.
     */
    async rotateKey(alg: string, immediate: boolean, actor: Actor): Promise<KeyInfo> {
      if (alg !== 'RS256' && alg !== 'ES256') throw new AppError('keys.invalid_alg', 'alg is RS256 or ES256', { status: 400 });
      const key = await deps.keyStore.rotate(alg as SigningAlg, { immediate });
      await deps.keysChanged?.();
      await record(actor, { type: 'key.rotated', details: { kid: key.kid, alg, immediate, activatesAt: key.activatesAt.toISOString() } });
      return key;
    },

    /** Stops publishing a key; the last signing key of an algorithm cannot be retired (rotate first). */
    async retireKey(kid: string, actor: Actor): Promise<{ kid: string; retired: boolean }> {
      const keys = await deps.keyStore.list();
      const key = keys.find((k) => k.kid === kid);
      if (!key || key.status !== 'active') throw new AppError('keys.not_found', `no published key ${kid}`, { status: 404 });
      // The current key signs new tokens; retiring it would leave tokens it just signed unverifiable.
      if (key.current)
        throw new AppError(
          'keys.current',
          `${kid} is the current ${key.alg} signing key: rotate first, then retire it once its tokens have expired`,
          { status: 409 },
        );
      const retired = await deps.keyStore.retire(kid);
      await deps.keysChanged?.();
      await record(actor, { type: 'key.retired', details: { kid, alg: key.alg } });
      return { kid, retired };
    },

    // DingTalk

    /**
     * Tries every DingTalk call the product needs, with the admin's own DingTalk identity: the app
     * token, getbyunionid (unionId → userid), user/get, department/get. users/me needs a user's
     * access token from a login, so it is proved by the admin's own sign-in and not re-run here.
     */
    async dingtalkHealth(adminAccountId: string) {
      // A service account (`client:<id>`) has no DingTalk identity: only the app-wide checks run.
      const account = UUID.test(adminAccountId) ? await Account.findByPk(adminAccountId) : null;
      const checks: HealthCheck[] = [];
      const dingtalk = deps.dingtalk;
      const describe = (error: unknown): string => {
        const e = error as { upstreamCode?: unknown; code?: unknown; errcode?: unknown; message?: unknown; status?: unknown };
        const code = e.upstreamCode ?? e.errcode ?? e.code;
        return [code === undefined ? undefined : String(code), typeof e.message === 'string' ? e.message : undefined]
          .filter(Boolean)
          .join(': ')
          .slice(0, 300);
      };
      const attempt = async (name: HealthCheck['name'], subject: string, work: () => Promise<unknown>): Promise<unknown> => {
        if (!dingtalk) {
          checks.push({ name, ok: null, subject, error: 'DingTalk client not available' });
          return undefined;
        }
        try {
          const result = await work();
          checks.push({ name, ok: true, subject });
          return result;
        } catch (error) {
          checks.push({ name, ok: false, subject, error: describe(error) });
          return undefined;
        }
      };
      checks.push({
        name: 'users_me',
        ok: account?.lastLoginAt ? true : null,
        subject: 'your last sign-in',
        ...(account?.lastLoginAt ? {} : { error: 'not signed in through DingTalk yet' }),
      });
      await attempt('app_token', 'app', () => dingtalk!.getAppAccessToken());
      let byUnion: { userid?: string } | undefined;
      if (account) {
        byUnion = (await attempt('getbyunionid', `unionId ${account.unionId}`, () =>
          dingtalk!.getUseridByUnionid(account.unionId),
        )) as typeof byUnion;
      } else {
        checks.push({ name: 'getbyunionid', ok: null, subject: 'unionId ?', error: 'no DingTalk identity: run this as a person' });
      }
      const userid = byUnion?.userid ?? account?.userId ?? undefined;
      if (userid) await attempt('user_get', `userid ${userid}`, () => dingtalk!.getUser(userid));
      else checks.push({ name: 'user_get', ok: null, subject: 'userid ?', error: 'no userid to ask for' });
      const dept = (account?.departments ?? [])[0]?.id;
      if (dept) await attempt('department_get', `dept ${dept}`, () => dingtalk!.getDepartment(dept));
      else checks.push({ name: 'department_get', ok: null, subject: 'dept ?', error: 'your account has no department' });
      // Every event is recorded in the inbox (an ignored or unreadable one too); the audit log only
      // has the ones that changed an account.
      const lastEventAt = deps.inbox
        ? ((await deps.inbox.list({ limit: 1 })).items[0]?.receivedAt ?? null)
        : ((
            await AuditEvent.findOne({
              where: {
                [Op.or]: [{ actor: { [Op.startsWith]: 'dingtalk:event' } }, { type: { [Op.startsWith]: 'dingtalk.event' } }],
              } as WhereOptions,
              order: [['id', 'DESC']],
            })
          )?.createdAt ?? null);
      let streamConnections: StatusEntry<StreamStatus>[] | null = null;
      let streamError: string | undefined;
      if (deps.dingtalkEvents?.mode === 'stream' && deps.dingtalkEvents.streamConnections) {
        try {
          streamConnections = await deps.dingtalkEvents.streamConnections();
        } catch {
          streamError = 'the connection states could not be read (Redis unavailable)';
        }
      }
      return {
        checks,
        eventMode: deps.dingtalkEvents?.mode ?? 'http',
        callbackUrl: `${deps.issuer}/dingtalk/events`,
        eventToken: deps.dingtalkEvents?.token ?? false,
        eventAesKey: deps.dingtalkEvents?.aesKey ?? false,
        lastEventAt,
        streamConnections,
        ...(streamError === undefined ? {} : { streamError }),
      };
    },
  };
}

export { UUID };
