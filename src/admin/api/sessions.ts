/** Admin API: sessions across accounts, ending one, and ending what an account has at one app. */
import { accountClientFilterOf } from '../ops/filters.js';
import { pageOf } from '../ops/paging.js';
import { actorOf, type ApiRoutes, bad, bodyOf } from './context.js';

export function registerSessionRoutes({ router, ops }: ApiRoutes): void {
  router.get('/sessions', async (ctx) => {
    ctx.body = await ops.listSessions({ ...accountClientFilterOf(ctx.query), ...pageOf(ctx.query, 20) });
  });
  router.delete('/sessions/:uid', async (ctx) => {
    ctx.body = await ops.revokeSession(ctx.params.uid!, actorOf(ctx));
  });
  router.post('/accounts/:id/apps/:client/revoke', async (ctx) => {
    const actor = actorOf(ctx);
    const consent = bodyOf(ctx).consent;
    if (consent !== undefined && typeof consent !== 'boolean') throw bad('consent is true or false');
    ctx.body = await ops.revokeAccountApp(ctx.params.id!, ctx.params.client!, actor, { consent: consent === true });
  });
}
