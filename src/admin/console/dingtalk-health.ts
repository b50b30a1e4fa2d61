/** Console: the DingTalk page (health check with the admin's own identity, how events arrive). */
import type { AdminUser } from '../guard.js';
import type { ConsolePages } from './context.js';
import { adminMessages } from './messages.js';

export function registerDingTalkHealthPage({ router, ops, render, signedIn }: ConsolePages): void {
  router.get('/dingtalk', signedIn, async (ctx) => {
    const health = await ops.dingtalkHealth((ctx.state.adminUser as AdminUser).accountId);
    render.page(ctx, 'dingtalk', { title: adminMessages(render.localeOf(ctx)).navDingtalk, section: 'dingtalk', health });
  });
}
