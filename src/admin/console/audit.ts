/** Console: the audit log with its filters, paged by cursor, and the filtered log as CSV. */
import { auditFilterOf } from '../ops/filters.js';
import { pageOf } from '../ops/paging.js';
import { type ConsolePages, text } from './context.js';
import { adminMessages } from './messages.js';

export function registerAuditPages({ router, ops, render, signedIn }: ConsolePages): void {
  router.get('/audit', signedIn, async (ctx) => {
    const filter = auditFilterOf(ctx.query);
    const { pageSize } = pageOf(ctx.query, 50);
    const result = await ops.auditPage(filter, pageSize);
    const params = new URLSearchParams();
    for (const name of ['account', 'client', 'type', 'actor', 'from', 'to']) {
      const value = text(ctx.query[name]);
      if (value) params.set(name, value);
    }
    render.page(ctx, 'audit', {
      title: adminMessages(render.localeOf(ctx)).navAudit,
      section: 'audit',
      result,
      filters: Object.fromEntries(params),
      filterQuery: params.toString(),
      first: !filter.before,
    });
  });
  router.get('/audit.csv', signedIn, async (ctx) => {
    const csv = await ops.auditCsv(auditFilterOf(ctx.query));
    ctx.type = 'text/csv; charset=utf-8';
    ctx.attachment('audit.csv');
    // A byte order mark, so that spreadsheet programs read the Chinese text as UTF-8.
    ctx.body = `\uFEFF${csv}`;
  });
}
