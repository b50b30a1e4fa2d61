/** Admin API: the audit log, a page with a cursor or the whole filtered log as CSV. */
import { auditFilterOf } from '../ops/filters.js';
import { pageOf } from '../ops/paging.js';
import type { ApiRoutes } from './context.js';

export function registerAuditRoutes({ router, ops }: ApiRoutes): void {
  router.get('/audit', async (ctx) => {
    const { pageSize } = pageOf(ctx.query, 50);
    ctx.body = await ops.auditPage(auditFilterOf(ctx.query), pageSize);
  });
  router.get('/audit.csv', async (ctx) => {
    const csv = await ops.auditCsv(auditFilterOf(ctx.query));
    ctx.type = 'text/csv; charset=utf-8';
    ctx.attachment('audit.csv');
    ctx.body = csv;
  });
}
