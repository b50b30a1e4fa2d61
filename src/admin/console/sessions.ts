/**
 * Console: the "Sessions and consents" page, filtered by account and app; ending one session,
 * forgetting one consent, and ending what an account has at one app.
 */
import { pageOf } from '../ops/paging.js';
import { checked, type ConsolePages, doneOf, failedParam, fieldsOf, text } from './context.js';
import { adminMessages } from './messages.js';

export function registerSessionPages({ router, ops, render, signedIn, form, writer }: ConsolePages): void {
  router.get('/sessions', signedIn, async (ctx) => {
    const account = text(ctx.query.account);
    const client = text(ctx.query.client);
    const filter = { ...(account ? { account } : {}), ...(client ? { client } : {}) };
    const [sessions, consents] = await Promise.all([
      ops.listSessions({ ...filter, ...pageOf(ctx.query, 20) }),
      ops.listConsents({ ...filter, ...pageOf({ page: ctx.query.consentsPage }) }),
    ]);
    const params = new URLSearchParams(filter).toString();
    render.page(ctx, 'sessions', {
      title: adminMessages(render.localeOf(ctx)).navSessions,
      section: 'sessions',
      sessions,
      consents,
      filters: filter,
      params,
      done: doneOf(ctx),
    });
  });
  router.post('/sessions/:uid/revoke', signedIn, form, async (ctx) => {
    const actor = writer(ctx);
    const { failures } = await ops.revokeSession(ctx.params.uid!, actor);
    ctx.redirect(`/admin/sessions?done=session_revoked${failedParam(failures.length)}${returnFilter(fieldsOf(ctx))}`);
  });
  router.post('/consents/revoke', signedIn, form, async (ctx) => {
    const actor = writer(ctx);
    await ops.revokeConsent(text(fieldsOf(ctx).account), text(fieldsOf(ctx).client), actor);
    ctx.redirect(`/admin/sessions?done=consent_revoked${returnFilter(fieldsOf(ctx))}`);
  });
  router.post('/apps/revoke', signedIn, form, async (ctx) => {
    const actor = writer(ctx);
    const fields = fieldsOf(ctx);
    const { failures } = await ops.revokeAccountApp(text(fields.account), text(fields.client), actor, { consent: checked(fields.consent) });
    ctx.redirect(`/admin/sessions?done=app_revoked${failedParam(failures.length)}${returnFilter(fields)}`);
  });
}

/** The page's filters, carried through a form so the redirect shows the same list. */
function returnFilter(body: Record<string, unknown>): string {
  const params = new URLSearchParams();
  for (const name of ['filterAccount', 'filterClient'] as const) {
    const value = text(body[name]);
    if (value) params.set(name === 'filterAccount' ? 'account' : 'client', value);
  }
  const query = params.toString();
  return query ? `&${query}` : '';
}
