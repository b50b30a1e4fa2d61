/**
 * The DingTalk health check for operators: every DingTalk call the product needs, tried with the
 * admin's own DingTalk identity, and how org events reach this deployment (HTTP push or Stream).
 */
import { Op, type WhereOptions } from 'sequelize';
import { SWEEP_AUDIT_TYPE, type SweepSummary } from '../../accounts/directory-sweep.js';
import type { EventInbox } from '../../accounts/inbox/index.js';
import type { Models } from '../../db/models/index.js';
import type { DingTalkDirectory, StreamStatus, UpstreamFailure } from '../../dingtalk/index.js';
import type { StatusEntry } from '../../store/status-board.js';
import { UUID } from './filters.js';

export interface HealthCheck {
  name: 'app_token' | 'users_me' | 'getbyunionid' | 'user_get' | 'department_get';
  ok: boolean | null;
  /** What was asked (`unionId …`, `userid …`, `dept 42`). */
  subject: string;
  /** Our error code and message, or why the check did not run. */
  error?: string;
  /** What DingTalk itself answered (its code, HTTP status, request id), or why it was not reached. */
  upstream?: UpstreamFailure;
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
  /** The directory at sign-in priority (a person is waiting on the page). */
  dingtalk?: DingTalkDirectory;
  dingtalkEvents?: DingTalkEventSettings;
  /** The event inbox: when the last DingTalk event arrived, whatever it was. */
  inbox?: Pick<EventInbox, 'list'>;
}

export function createDingTalkHealthOps(deps: DingTalkHealthDeps) {
  const { Account, AuditEvent } = deps.models;

  /** The last directory sweep's figures (the audit log keeps them), with who ran it; null before the first. */
  async function lastSweep(): Promise<(SweepSummary & { actor: string | null }) | null> {
    const event = await AuditEvent.findOne({ where: { type: SWEEP_AUDIT_TYPE }, order: [['id', 'DESC']] });
    return event ? { ...(event.details as unknown as SweepSummary), actor: event.actor } : null;
  }

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
      checks.push({
        name: 'users_me',
        ok: account?.lastLoginAt ? true : null,
        subject: 'your last sign-in',
        ...(account?.lastLoginAt ? {} : { error: 'not signed in through DingTalk yet' }),
      });
      const departmentId = (account?.departments ?? [])[0]?.id;
      if (deps.dingtalk) {
        checks.push(
          ...(await deps.dingtalk.check({
            ...(account ? { unionId: account.unionId } : {}),
            ...(account?.userId ? { userId: account.userId } : {}),
            ...(departmentId ? { departmentId } : {}),
          })),
        );
      } else {
        for (const name of ['app_token', 'getbyunionid', 'user_get', 'department_get'] as const) {
          checks.push({ name, ok: null, subject: name === 'app_token' ? 'app' : '?', error: 'DingTalk client not available' });
        }
      }
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
        lastSweep: await lastSweep(),
        streamConnections,
        ...(streamError === undefined ? {} : { streamError }),
      };
    },
  };
}

export type DingTalkHealthOps = ReturnType<typeof createDingTalkHealthOps>;
