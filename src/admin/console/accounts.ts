/** Console: the account list and search, one account's page, and its actions (disable, enable, revoke, sync). */
import { AppError } from '../../errors/app-error.js';
import { pageOf } from '../ops/paging.js';
import { type ConsolePages, failedParam, fieldsOf, text } from './context.js';
import { adminMessages } from './messages.js';

const ACCOUNT_ACTIONS = ['disable', 'enable', 'revoke', 'sync'] as const;

export function registerAccountPages({ router, ops, render, signedIn, form, writer }: ConsolePages): void {
  router.get('/accounts', signedIn, async (ctx) => {
    const q = text(ctx.query.q);
    const status = text(ctx.query.status);
    const result = await ops.searchAccounts({ q, status, ...pageOf(ctx.query) });
    render.page(ctx, 'accounts', {
      title: adminMessages(render.localeOf(ctx)).navAccounts,
      section: 'accounts',
      result,
      q,
      statusFilter: status,
    });
  });
  router.get('/accounts/:id', signedIn, async (ctx) => {
    const [detail, roles] = await Promise.all([ops.accountDetail(ctx.params.id!), ops.listRoles()]);
    render.page(ctx, 'account', {
      allRoles: roles.map((role) => role.name),
      title: detail.account.name,
      section: 'accounts',
      detail,
      done: [...ACCOUNT_ACTIONS, 'assign', 'unassign'].find((action) => action === ctx.query.done) ?? '',
    });
  });
  router.post('/accounts/:id/:action', signedIn, form, async (ctx) => {
    const action = ACCOUNT_ACTIONS.find((name) => name === ctx.params.action);
    if (!action) throw new AppError('not_found', 'no such action', { status: 404 });
    const actor = writer(ctx);
    const id = ctx.params.id!;
    const result =
      action === 'disable'
        ? await ops.disableAccount(id, actor, text(fieldsOf(ctx).reason) || undefined)
        : action === 'enable'
          ? await ops.enableAccount(id, actor)
          : action === 'revoke'
            ? await ops.revokeAccount(id, actor)
            : await ops.syncAccount(id, actor);
    const failed = 'backchannelFailed' in result ? result.backchannelFailed : 0;
    ctx.redirect(`/admin/accounts/${encodeURIComponent(result.accountId)}?done=${action}${failedParam(failed)}`);
  });
}
