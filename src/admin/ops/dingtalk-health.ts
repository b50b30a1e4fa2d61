/**
 * The DingTalk health check for operators: every DingTalk call the product needs, tried with the
 * admin's own DingTalk identity, and how org events reach this deployment (HTTP push or Stream).
 */
import { Op, type WhereOptions } from 'sequelize';
import type { EventInbox } from '../../accounts/event-inbox.js';
import type { Models } from '../../db/models/index.js';
import type { DingTalkClient } from '../../dingtalk/client.js';
import type { StreamStatus } from '../../dingtalk/stream-client.js';
import type { StatusEntry } from '../../store/status-board.js';
import { UUID } from './filters.js';

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

export interface DingTalkHealthDeps {
  issuer: string;
  models: Pick<Models, 'Account' | 'AuditEvent'>;
  dingtalk?: DingTalkClient;
  dingtalkEvents?: DingTalkEventSettings;
  /** The event inbox: when the last DingTalk event arrived, whatever it was. */
  inbox?: Pick<EventInbox, 'list'>;
}

export function createDingTalkHealthOps(deps: DingTalkHealthDeps) {
  const { Account, AuditEvent } = deps.models;

  return {
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
        return [
          typeof code === 'string' || typeof code === 'number' ? String(code) : undefined,
          typeof e.message === 'string' ? e.message : undefined,
        ]
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

export type DingTalkHealthOps = ReturnType<typeof createDingTalkHealthOps>;
