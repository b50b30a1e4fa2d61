/** Admin API: the DingTalk health check, run with the caller's own DingTalk identity. */
import type { AdminUser } from '../guard.js';
import type { ApiRoutes } from './context.js';

export function registerDingTalkHealthRoutes({ router, ops }: ApiRoutes): void {
  router.get('/dingtalk/health', async (ctx) => {
    ctx.body = await ops.dingtalkHealth((ctx.state.adminUser as AdminUser).accountId);
  });
}
