/** Admin API: roles, manual assignments and role rules (with a preview that changes nothing). */
import { z } from 'zod';
import { AppError } from '../../errors/app-error.js';
import { pageOf, paginate } from '../ops/paging.js';
import type { RuleFields } from '../ops/roles.js';
import { actorOf, type ApiRoutes, bodyOf, optionalText, parse, requiredText } from './context.js';

/** Rule fields as the role service takes them; `value` may be one value or a list (the role service checks it per kind). */
const ruleBody = z.object({
  kind: z.string({ error: 'kind is required' }),
  value: z.unknown().optional(),
  includeSubDepartments: z.boolean({ error: 'includeSubDepartments is true or false' }).optional(),
});
const roleOfRuleBody = z.object({ role: requiredText('role'), description: optionalText('description') });
const roleBody = z.object({ name: requiredText('name'), description: optionalText('description') });
const accountBody = z.object({ account: requiredText('account') });

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
    const rule = ruleInput(input);
    const { role, description } = parse(roleOfRuleBody, input);
    const { rule: added, changes } = await ops.addRule({ ...rule, role, description: description ?? null }, actor);
    ctx.status = 201;
    ctx.body = { rule: added, changes };
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
    const actor = actorOf(ctx);
    const { name, description } = parse(roleBody, bodyOf(ctx));
    ctx.status = 201;
    ctx.body = await ops.createRole(name, description ?? null, actor);
  });
  router.delete('/roles/:name', async (ctx) => {
    ctx.body = await ops.deleteRole(ctx.params.name!, actorOf(ctx));
  });
  router.post('/roles/:name/assign', async (ctx) => {
    const actor = actorOf(ctx);
    ctx.body = await ops.assignRole(ctx.params.name!, parse(accountBody, bodyOf(ctx)).account, actor);
  });
  router.post('/roles/:name/unassign', async (ctx) => {
    const actor = actorOf(ctx);
    const change = await ops.unassignRole(ctx.params.name!, parse(accountBody, bodyOf(ctx)).account, actor);
    ctx.body = change ?? { unassigned: false };
  });
}

/** The rule fields of a body; a 400 `roles.invalid_rule` when they do not fit. */
function ruleInput(input: Record<string, unknown>): RuleFields {
  const { kind, value, includeSubDepartments } = parse(ruleBody, input, 'roles.invalid_rule');
  return {
    kind,
    ...(value === undefined ? {} : { value }),
    ...(includeSubDepartments === undefined ? {} : { includeSubDepartments }),
  };
}
