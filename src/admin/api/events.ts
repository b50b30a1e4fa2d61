/** Admin API: the DingTalk event inbox (list by status, one event, retry). */
import { inboxStatusOf } from '../ops/filters.js';
import { pageOf } from '../ops/paging.js';
import { actorOf, type ApiRoutes } from './context.js';

export function registerEventRoutes({ router, ops }: ApiRoutes): void {
  router.get('/events', async (ctx) => {
    const status = inboxStatusOf(ctx.query.status);
    ctx.body = await ops.listEvents({ ...(status ? { status } : {}), ...pageOf(ctx.query) });
  });
  router.get('/events/:id', async (ctx) => {
    ctx.body = await ops.getEvent(ctx.params.id!);
  });
  router.post('/events/:id/retry', async (ctx) => {
    ctx.body = await ops.retryEvent(ctx.params.id!, actorOf(ctx));
  });
}
