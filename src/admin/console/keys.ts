/** Console: signing keys (rotate, retire). */
import { checked, type ConsolePages, doneOf, fieldsOf, text } from './context.js';
import { adminMessages } from './messages.js';

export function registerKeyPages({ router, ops, render, signedIn, form, writer }: ConsolePages): void {
  router.get('/keys', signedIn, async (ctx) => {
    const title = adminMessages(render.localeOf(ctx)).navKeys;
    render.page(ctx, 'keys', { title, section: 'keys', keys: await ops.listKeys(), done: doneOf(ctx) });
  });
  router.post('/keys/rotate', signedIn, form, async (ctx) => {
    const actor = writer(ctx);
    await ops.rotateKey(text(fieldsOf(ctx).alg) || 'RS256', checked(fieldsOf(ctx).immediate), actor);
    ctx.redirect('/admin/keys?done=rotated');
  });
  router.post('/keys/:kid/retire', signedIn, form, async (ctx) => {
    const actor = writer(ctx);
    await ops.retireKey(ctx.params.kid!, actor);
    ctx.redirect('/admin/keys?done=retired');
  });
}
