/** Admin API: roles, manual assignments and role rules (with a preview that changes nothing). */
import { AppError } from '../../errors/app-error.js';
import { pageOf, paginate } from '../ops/paging.js';
import type { RuleFields } from '../ops/roles.js';
import { actorOf, type ApiRoutes, bodyOf, str } from './context.js';

export function registerRoleRoutes({ router, ops }: ApiRoutes): void {
  // Role rules first: /roles/:name would otherwise take "rules" as a role name.
  router.get('/roles/rules', async (ctx) => {
    const { page, pageSize } = pageOf(ctx.query, 100);
    ctx.body = paginate(await ops.listRules(), page, pageSize);
  });
  router.post('/roles/rules/preview', async (ctx) => {
    const input = ruleInput(bodyOf(ctx));
    const accounts = await ops.previewRule(input);
    const { page, pageSize } = pageOf(ctx.query, 100);
    ctx.body = paginate(accounts, page, pageSize);
  });
  router.post('/roles/rules', async (ctx) => {
    const input = bodyOf(ctx);
    const actor = actorOf(ctx);
    const { rule, changes } = await ops.addRule(
      { ...ruleInput(input), role: str(input.role, 'role')!, description: str(input.description, 'description', false) ?? null },
      actor,
    );
    ctx.status = 201;
    ctx.body = { rule, changes };
  });
  router.delete('/roles/rules/:id', async (ctx) => {
    const id = ctx.params.id ?? '';
    if (!/^\d{1,9}$/.test(id)) throw new AppError('roles.rule_not_found', `no rule #${id}`, { status: 404 });
    ctx.body = await ops.removeRule(Number(id), actorOf(ctx));
  });

  router.get('/roles', async (ctx) => {
    const { page, pageSize } = pageOf(ctx.query, 100);
    ctx.body = paginate(await ops.listRoles(), page, pageSize);
  });
  router.post('/roles', async (ctx) => {
    const input = bodyOf(ctx);
    const actor = actorOf(ctx);
    ctx.status = 201;
    ctx.body = await ops.createRole(str(input.name, 'name')!, str(input.description, 'description', false) ?? null, actor);
  });
  router.delete('/roles/:name', async (ctx) => {
    ctx.body = await ops.deleteRole(ctx.params.name!, actorOf(ctx));
  });
  router.post('/roles/:name/assign', async (ctx) => {
    const actor = actorOf(ctx);
    ctx.body = await ops.assignRole(ctx.params.name!, str(bodyOf(ctx).account, 'account')!, actor);
  });
  router.post('/roles/:name/unassign', async (ctx) => {
    const actor = actorOf(ctx);
    const change = await ops.unassignRole(ctx.params.name!, str(bodyOf(ctx).account, 'account')!, actor);
    ctx.body = change ?? { unassigned: false };
  });
}

/** Rule fields as the role service takes them; `value` may be one value or a list. */
export function ruleInput(input: Record<string, unknown>): RuleFields {
  if (typeof input.kind !== 'string') throw new AppError('roles.invalid_rule', 'kind is required', { status: 400 });
  if (input.includeSubDepartments !== undefined && typeof input.includeSubDepartments !== 'boolean') {
    throw new AppError('roles.invalid_rule', 'includeSubDepartments is true or false', { status: 400 });
  }
  return {
    kind: input.kind,
    ...(input.value === undefined ? {} : { value: input.value }),
    ...(input.includeSubDepartments === undefined ? {} : { includeSubDepartments: input.includeSubDepartments }),
  };
}
