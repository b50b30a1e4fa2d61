/** Admin API: signing keys (list, rotate, retire). */
import { actorOf, type ApiRoutes, bad, bodyOf, str } from './context.js';

export function registerKeyRoutes({ router, ops }: ApiRoutes): void {
  router.get('/keys', async (ctx) => {
    ctx.body = { items: await ops.listKeys() };
  });
  router.post('/keys/rotate', async (ctx) => {
    const input = bodyOf(ctx);
    const actor = actorOf(ctx);
    if (input.immediate !== undefined && typeof input.immediate !== 'boolean') throw bad('immediate is true or false');
    ctx.status = 201;
    ctx.body = await ops.rotateKey(str(input.alg, 'alg', false) ?? 'RS256', input.immediate === true, actor);
  });
  router.post('/keys/:kid/retire', async (ctx) => {
    ctx.body = await ops.retireKey(ctx.params.kid!, actorOf(ctx));
  });
}
