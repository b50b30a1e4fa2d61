/** Admin API: accounts (search, detail, disable, enable, revoke, sync). */
import { z } from 'zod';
import { pageOf } from '../ops/paging.js';
import { actorOf, type ApiRoutes, bodyOf, optionalText, parse } from './context.js';

const disableBody = z.object({ reason: optionalText('reason') });

export function registerAccountRoutes({ router, ops }: ApiRoutes): void {
  router.get('/accounts', async (ctx) => {
    const q = typeof ctx.query.q === 'string' ? ctx.query.q : undefined;
    const status = typeof ctx.query.status === 'string' ? ctx.query.status : undefined;
    ctx.body = await ops.searchAccounts({ ...(q ? { q } : {}), ...(status ? { status } : {}), ...pageOf(ctx.query) });
  });
  router.get('/accounts/:id', async (ctx) => {
    ctx.body = await ops.accountDetail(ctx.params.id!);
  });
  router.post('/accounts/:id/disable', async (ctx) => {
    const actor = actorOf(ctx);
    const { reason } = parse(disableBody, bodyOf(ctx));
    ctx.body = await ops.disableAccount(ctx.params.id!, actor, reason);
  });
  router.post('/accounts/:id/enable', async (ctx) => {
    ctx.body = await ops.enableAccount(ctx.params.id!, actorOf(ctx));
  });
  router.post('/accounts/:id/revoke', async (ctx) => {
    ctx.body = await ops.revokeAccount(ctx.params.id!, actorOf(ctx));
  });
  router.post('/accounts/:id/sync', async (ctx) => {
    ctx.body = await ops.syncAccount(ctx.params.id!, actorOf(ctx));
  });
}
