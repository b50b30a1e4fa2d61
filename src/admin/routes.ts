/**
 * The admin console (/admin, pages) and the admin API (/admin/api, JSON) — one router each, built
 * on the same admin operations (ops/) so both check, do and audit a change the same way.
 *
 *   GET  /admin, /admin/login → our /auth → /admin/callback → session cookie  (console/sign-in.ts)
 *   GET  /admin/accounts|roles|audit…, POST forms with CSRF                   (console/<resource>.ts)
 *   *    /admin/api/…  bearer JWT for `${issuer}/admin`                       (api/<resource>.ts)
 *
 * Who may do what is in guard.ts: `admin` reads and writes, `auditor` reads.
 */
import type Koa from 'koa';
import type { Logger } from '../log.js';
import type { EphemeralStore } from '../store/ephemeral.js';
import type { ConsoleSessionStore } from '../store/console-sessions.js';
import { createAdminApiRouter } from './api/router.js';
import { createAdminRenderer } from './console/render.js';
import { createAdminConsoleRouter } from './console/router.js';
import { createAdminAuth } from './console/sign-in.js';
import type { GuardDeps } from './guard.js';
import { createAdminOps, type AdminOpsDeps } from './ops/index.js';
import { adminResource, type AdminClient, ADMIN_CLIENT_ID } from './ops/admin-client.js';
import { createTokenVerifier } from './verify.js';

/** What the admin operations need (ops/index.ts), and what the console and the API add. */
export interface AdminDeps extends AdminOpsDeps {
  /** The console's sessions and its login state (store/index.ts). */
  sessions: ConsoleSessionStore;
  ephemeral: EphemeralStore;
  /** The console's client: `ensureAdminClient` (ops/admin-client.ts), called at first use and remembered. */
  client: () => Promise<AdminClient>;
  logger: Logger;
}

/** Middleware for `createApp({ routes })`: the API first (it answers JSON), then the console. */
export function createAdminRoutes(deps: AdminDeps): Koa.Middleware[] {
  const verifier = createTokenVerifier(deps.keyStore, deps.issuer);
  const ops = createAdminOps(deps);
  const { sessions, ephemeral } = deps;
  const guardDeps: GuardDeps = {
    models: deps.models,
    roles: deps.roles,
    // Service accounts: the provider's own (cached, invalidated on change) view of the client.
    findClient: async (clientId) => {
      const client = await deps.provider().Client.find(clientId);
      if (!client) return undefined;
      const { clientName, service_roles: roles } = client as unknown as { clientName?: string; service_roles?: unknown };
      return { name: clientName ?? clientId, serviceRoles: Array.isArray(roles) ? roles : [] };
    },
  };
  let client: Promise<AdminClient> | undefined;
  const adminClient = (): Promise<AdminClient> => {
    client ??= deps.client().catch((error: unknown) => {
      client = undefined; // try again at the next request
      throw error;
    });
    return client;
  };
  const api = createAdminApiRouter({ ...guardDeps, ops, verifier, audience: adminResource(deps.issuer), logger: deps.logger });
  const consoleRouter = createAdminConsoleRouter({
    ...guardDeps,
    ops,
    sessions,
    // The console signed in through our own issuer: when that grant is revoked (an admin's account
    // revoked or disabled), the console session ends with it.
    stillGranted: async (accountId) => {
      for (const grantId of await deps.accountIndex.grantIds(accountId)) {
        const grant = await deps.provider().Grant.find(grantId);
        if (grant?.clientId === ADMIN_CLIENT_ID) return true;
      }
      return false;
    },
    auth: createAdminAuth({ issuer: deps.issuer, client: adminClient, verifier, sessions, ephemeral }),
    render: createAdminRenderer(),
  });
  return [api.routes() as Koa.Middleware, consoleRouter.routes() as Koa.Middleware, consoleRouter.allowedMethods() as Koa.Middleware];
}
