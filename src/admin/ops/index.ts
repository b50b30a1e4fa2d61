/**
 * The admin operations on one set of services: what the console (console/), the admin API (api/)
 * and the command line (cli/) all call, so a change made through any of them is checked, done and
 * audited the same way. One file per resource beside this one; none of them knows Koa.
 */
import type Provider from 'oidc-provider';
import type { ClientMetadata } from 'oidc-provider';
import type { Sequelize } from 'sequelize';
import type { AccessChanges } from '../../accounts/access-changes.js';
import type { AuditLog } from '../../accounts/audit.js';
import type { ConsentStore } from '../../accounts/consents.js';
import type { Deprovisioning } from '../../accounts/deprovisioning.js';
import type { EventInbox } from '../../accounts/inbox/index.js';
import type { RoleService } from '../../accounts/roles.js';
import type { Models } from '../../db/models/index.js';
import type { DingTalkDirectory } from '../../dingtalk/index.js';
import type { ClientStore } from '../../oidc/clients.js';
import type { KeyStore } from '../../oidc/keys.js';
import type { AccountIndex } from '../../store/account-index.js';
import { createAccountOps } from './accounts.js';
import { auditRecorder } from './actor.js';
import { createAuditOps } from './audit.js';
import { createClientOps } from './clients.js';
import { createConsentOps } from './consents.js';
import { createDingTalkHealthOps, type DingTalkEventSettings } from './dingtalk-health.js';
import { createEventOps } from './events.js';
import { createKeyOps } from './keys.js';
import { createRoleOps } from './roles.js';
import { createSessionOps } from './sessions.js';

export interface AdminOpsDeps {
  sequelize: Sequelize;
  models: Models;
  roles: RoleService;
  deprovisioning: Deprovisioning;
  consents: ConsentStore;
  clientStore: ClientStore;
  accountIndex: AccountIndex;
  /** The provider serving now (keys rotate: never keep one instance). */
  provider: () => Provider;
  audit: AuditLog;
  issuer: string;
  keyStore: KeyStore;
  /** oidc-provider's own check of client metadata (ProviderHolder.validateClient). */
  validateClient: (metadata: ClientMetadata) => Promise<void>;
  /** Tells every replica that the signing keys changed (notifier `keys` → holder.reloadKeys). */
  keysChanged?: () => Promise<void>;
  dingtalk?: DingTalkDirectory;
  /** Whether DINGTALK_EVENT_TOKEN and DINGTALK_EVENT_AES_KEY are set. */
  dingtalkEvents?: DingTalkEventSettings;
  /** Revokes grants that role and access-policy changes take away (accounts/access-changes.ts). */
  access?: AccessChanges;
  /** The DingTalk event inbox (Services.inbox). */
  inbox?: EventInbox;
}

export function createAdminOps(deps: AdminOpsDeps) {
  const record = auditRecorder(deps.audit);
  const audit = createAuditOps(deps);
  const sessions = createSessionOps({ ...deps, record });
  const roles = createRoleOps({ ...deps, record });
  const { Account } = deps.models;

  return {
    ...audit,
    ...createAccountOps({ ...deps, record, audit }),
    ...roles,
    ...sessions,
    ...createConsentOps({ ...deps, record }),
    ...createKeyOps({ ...deps, record }),
    ...createDingTalkHealthOps(deps),
    ...createClientOps({
      issuer: deps.issuer,
      clientStore: deps.clientStore,
      validateClient: deps.validateClient,
      record,
      forgetClient: (clientId) => sessions.forgetClient(clientId),
      ...(deps.access ? { access: deps.access } : {}),
    }),
    ...createEventOps({ ...(deps.inbox ? { inbox: deps.inbox } : {}), record }),

    /** Counts for the dashboard. */
    async stats() {
      const [accounts, disabled, roleList, events] = await Promise.all([
        Account.count(),
        Account.count({ where: { status: 'disabled' } }),
        roles.listRoles(),
        deps.inbox?.counts(),
      ]);
      return {
        ...(events ? { eventsPending: events.pending, eventsFailed: events.failed } : {}),
        accounts,
        active: accounts - disabled,
        disabled,
        roles: roleList.length,
        rules: roleList.reduce((sum, role) => sum + role.rules, 0),
      };
    },
  };
}

export type AdminOps = ReturnType<typeof createAdminOps>;
