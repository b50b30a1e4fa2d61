/** Console: roles and role rules (with a preview of who a rule matches), and manual assignments. */
import { RULE_KINDS } from '../../accounts/role-rules.js';
import { AppError } from '../../errors/app-error.js';
import { pageOf, paginate } from '../ops/paging.js';
import type { RuleFields } from '../ops/roles.js';
import { type ConsolePages, fieldsOf, text } from './context.js';
import { adminMessages } from './messages.js';

export function registerRolePages({ router, ops, render, signedIn, form, writer, verifyCsrf }: ConsolePages): void {
  // Role rules first: /roles/:name/… would otherwise take "rules" as a role name.
  router.post('/roles/rules/preview', signedIn, form, async (ctx) => {
    verifyCsrf(ctx);
    const fields = fieldsOf(ctx);
    const input = ruleForm(fields);
    const matching = await ops.previewRule(input);
    const { page, pageSize } = pageOf(ctx.query, 100);
    render.page(ctx, 'rule-preview', {
      title: adminMessages(render.localeOf(ctx)).rulePreviewTitle,
      section: 'roles',
      input: { ...input, role: text(fields.role), description: text(fields.description), rawValue: text(fields.value) },
      matching: paginate(matching, page, pageSize),
    });
  });
  router.post('/roles/rules', signedIn, form, async (ctx) => {
    const actor = writer(ctx);
    const body = fieldsOf(ctx);
    await ops.addRule({ ...ruleForm(body), role: text(body.role), description: text(body.description) || null }, actor);
    ctx.redirect('/admin/roles?done=rule_added');
  });
  router.post('/roles/rules/:id/delete', signedIn, form, async (ctx) => {
    const actor = writer(ctx);
    const id = ctx.params.id ?? '';
    if (!/^\d{1,9}$/.test(id)) throw new AppError('roles.rule_not_found', `no rule #${id}`, { status: 404 });
    await ops.removeRule(Number(id), actor);
    ctx.redirect('/admin/roles?done=rule_removed');
  });

  router.get('/roles', signedIn, async (ctx) => {
    const { page, pageSize } = pageOf(ctx.query, 50);
    const [roles, rules] = await Promise.all([ops.listRoles(), ops.listRules()]);
    render.page(ctx, 'roles', {
      title: adminMessages(render.localeOf(ctx)).navRoles,
      section: 'roles',
      roles: paginate(roles, page, pageSize),
      rules: paginate(rules, pageOf({ page: ctx.query.rulesPage }, 50).page, pageSize),
      allRoles: roles.map((role) => role.name),
      kinds: RULE_KINDS,
      done: typeof ctx.query.done === 'string' ? ctx.query.done : '',
    });
  });
  router.post('/roles', signedIn, form, async (ctx) => {
    const actor = writer(ctx);
    await ops.createRole(text(fieldsOf(ctx).name), text(fieldsOf(ctx).description) || null, actor);
    ctx.redirect('/admin/roles?done=role_created');
  });
  router.post('/roles/assign', signedIn, form, async (ctx) => {
    const actor = writer(ctx);
    const change = await ops.assignRole(text(fieldsOf(ctx).role), requiredAccount(fieldsOf(ctx).account), actor);
    ctx.redirect(`/admin/accounts/${encodeURIComponent(change.accountId)}?done=assign`);
  });
  router.post('/roles/:name/delete', signedIn, form, async (ctx) => {
    const actor = writer(ctx);
    await ops.deleteRole(ctx.params.name!, actor);
    ctx.redirect('/admin/roles?done=role_removed');
  });
  router.post('/roles/:name/:action', signedIn, form, async (ctx) => {
    const action = ctx.params.action;
    if (action !== 'assign' && action !== 'unassign') throw new AppError('not_found', 'no such action', { status: 404 });
    const actor = writer(ctx);
    const account = requiredAccount(fieldsOf(ctx).account);
    const change =
      action === 'assign'
        ? await ops.assignRole(ctx.params.name!, account, actor)
        : await ops.unassignRole(ctx.params.name!, account, actor);
    const target = change?.accountId ?? (await ops.accountDetail(account)).account.id;
    ctx.redirect(`/admin/accounts/${encodeURIComponent(target)}?done=${action}`);
  });
}

function requiredAccount(value: unknown): string {
  const account = typeof value === 'string' ? value.trim() : '';
  if (!account) throw new AppError('accounts.not_found', 'give an account id, userid or unionId', { status: 400 });
  return account;
}

/** The rule fields of a console form: the value is a comma- or line-separated list. */
function ruleForm(body: Record<string, unknown>): RuleFields {
  const kind = typeof body.kind === 'string' ? body.kind : '';
  const raw = typeof body.value === 'string' ? body.value : '';
  const values = raw
    .split(/[,，\n]/)
    .map((part) => part.trim())
    .filter((part) => part !== '');
  const value = kind === 'admin' || kind === 'boss' ? (values[0] ?? 'true') : values;
  return { kind, value, includeSubDepartments: body.includeSubDepartments === 'on' || body.includeSubDepartments === 'true' };
}
