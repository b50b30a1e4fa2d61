/**
 * Console: the DingTalk event inbox, by status (pending, done, failed, ignored) with the reason,
 * newest first, paged; a Retry form per failed or waiting event for admins.
 */
import { INBOX_STATUSES } from '../../db/models/inbox-event.js';
import { inboxStatusOf } from '../ops/filters.js';
import { pageOf } from '../ops/paging.js';
import { type ConsolePages, fieldsOf } from './context.js';
import { adminMessages } from './messages.js';

export function registerEventPages({ router, ops, render, signedIn, form, writer }: ConsolePages): void {
  router.get('/events', signedIn, async (ctx) => {
    const status = inboxStatusOf(ctx.query.status);
    const events = await ops.listEvents({ ...(status ? { status } : {}), ...pageOf(ctx.query, 25) });
    const done = typeof ctx.query.done === 'string' ? ctx.query.done.slice(0, 40) : '';
    render.page(ctx, 'events', {
      title: adminMessages(render.localeOf(ctx)).navEvents,
      section: 'events',
      events,
      filterStatus: status ?? '',
      statuses: INBOX_STATUSES,
      params: status ? new URLSearchParams({ status }).toString() : '',
      done,
    });
  });

  router.post('/events/:id/retry', signedIn, form, async (ctx) => {
    const actor = writer(ctx);
    await ops.retryEvent(ctx.params.id!, actor);
    const back = inboxStatusOf(fieldsOf(ctx).filterStatus);
    ctx.redirect(`/admin/events?done=event_retried${back ? `&status=${back}` : ''}`);
  });
}
