/**
 * The console's DingTalk event inbox page: the events by status (pending, done, failed, ignored)
 * with the reason, newest first, paged; a CSRF-checked Retry form per failed or waiting event for
 * admins (post/redirect/get, audited by the admin service). Same rules as console.ts.
 */
import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { INBOX_STATUSES } from '../db/models/inbox-event.js';
import { adminMessages } from './messages.js';
import type { AdminRenderer } from './render.js';
import type { Actor } from './ops/actor.js';
import { inboxStatusOf } from './ops/filters.js';
import type { AdminOps } from './ops/index.js';
import { pageOf } from './ops/paging.js';

export interface EventPagesDeps {
  service: AdminOps;
  render: AdminRenderer;
  signedIn: Middleware;
  form: Middleware;
  writer: (ctx: Context) => Actor;
  fields: (ctx: Context) => Record<string, unknown>;
}

export function registerEventPages(router: Router, deps: EventPagesDeps): void {
  const { service, render, signedIn, form, writer, fields } = deps;

  router.get('/events', signedIn, async (ctx) => {
    const status = inboxStatusOf(ctx.query.status);
    const events = await service.listEvents({ ...(status ? { status } : {}), ...pageOf(ctx.query, 25) });
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
    await service.retryEvent(ctx.params.id!, actor);
    const back = inboxStatusOf(fields(ctx).filterStatus);
    ctx.redirect(`/admin/events?done=event_retried${back ? `&status=${back}` : ''}`);
  });
}
