/**
 * The DingTalk event inbox for operators (console, API, CLI): list by status with paging, one
 * item, retry (audited as `inbox.retry`). The inbox itself is accounts/inbox/; the
 * `status` filter is read by filters.ts `inboxStatusOf`.
 */
import type { EventInbox, InboxItem } from '../../accounts/inbox/index.js';
import type { InboxStatus } from '../../db/models/inbox-event.js';
import { AppError } from '../../errors/app-error.js';
import type { Actor, AuditRecorder } from './actor.js';
import type { Paged } from './paging.js';

export interface EventOpsDeps {
  inbox?: EventInbox;
  record: AuditRecorder;
}

export function createEventOps(deps: EventOpsDeps) {
  const inbox = (): EventInbox => {
    if (!deps.inbox) throw new AppError('inbox.unavailable', 'the event inbox is not available here', { status: 404 });
    return deps.inbox;
  };

  return {
    /** Newest first; `counts` has every status, whatever the filter. */
    async listEvents(query: {
      status?: InboxStatus;
      page: number;
      pageSize: number;
    }): Promise<Paged<InboxItem> & { counts: Record<InboxStatus, number> }> {
      const [{ items, total }, counts] = await Promise.all([
        inbox().list({
          ...(query.status ? { status: query.status } : {}),
          limit: query.pageSize,
          offset: (query.page - 1) * query.pageSize,
        }),
        inbox().counts(),
      ]);
      return { items, page: query.page, pageSize: query.pageSize, total, counts };
    },

    async getEvent(id: string): Promise<InboxItem> {
      const item = await inbox().get(id);
      if (!item) throw new AppError('inbox.not_found', 'no such event in the inbox', { status: 404 });
      return item;
    },

    /** Puts a failed (or waiting) event back in line now; the worker of some replica takes it. */
    async retryEvent(id: string, actor: Actor): Promise<InboxItem> {
      const { item, previous } = await inbox().retry(id);
      await deps.record(actor, {
        type: 'inbox.retry',
        details: {
          eventId: id,
          eventType: previous.type,
          previousStatus: previous.status,
          previousAttempts: previous.attempts,
          reason: previous.reason,
        },
      });
      return item;
    },
  };
}
