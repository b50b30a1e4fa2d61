/** Admin API: sessions across accounts, ending one, and ending what an account has at one app. */
import { accountClientFilterOf } from '../ops/filters.js';
import { pageOf } from '../ops/paging.js';
import { z } from 'zod';
import { actorOf, type ApiRoutes, bodyOf, optionalFlag, parse } from './context.js';

const appRevokeBody = z.object({ consent: optionalFlag('consent') });

export function registerSessionRoutes({ router, ops }: ApiRoutes): void {
  router.get('/sessions', async (ctx) => {
    ctx.body = await ops.listSessions({ ...accountClientFilterOf(ctx.query), ...pageOf(ctx.query, 20) });
  });
  router.delete('/sessions/:uid', async (ctx) => {
    ctx.body = await ops.revokeSession(ctx.params.uid!, actorOf(ctx));
  });
  router.post('/accounts/:id/apps/:client/revoke', async (ctx) => {
    const actor = actorOf(ctx);
    const { consent } = parse(appRevokeBody, bodyOf(ctx));
    ctx.body = await ops.revokeAccountApp(ctx.params.id!, ctx.params.client!, actor, { consent: consent === true });
  });
}
