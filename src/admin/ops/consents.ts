/**
 * Remembered consents for operators (Postgres): list across accounts and apps, and forget one, so
 * the app asks again at the next sign-in.
 */
import type { WhereOptions } from 'sequelize';
import type { ConsentStore } from '../../accounts/consents.js';
import type { RoleService } from '../../accounts/roles.js';
import type { Models } from '../../db/models/index.js';
import { AppError } from '../../errors/app-error.js';
import type { ClientStore } from '../../oidc/clients.js';
import type { Actor, AuditRecorder } from './actor.js';
import { clientNames } from './clients.js';
import type { Paged } from './paging.js';

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

export interface ConsentOpsDeps {
  models: Pick<Models, 'Account' | 'Consent'>;
  consents: ConsentStore;
  clientStore: ClientStore;
  roles: RoleService;
  record: AuditRecorder;
}

export function createConsentOps(deps: ConsentOpsDeps) {
  const { record } = deps;
  const { Account, Consent } = deps.models;
  const accountFilter = async (ref: string | undefined) => (ref ? deps.roles.findAccount(ref) : undefined);

  return {
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
      const map = await clientNames(deps.clientStore);
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
  };
}

export type ConsentOps = ReturnType<typeof createConsentOps>;
