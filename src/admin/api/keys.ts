/** Admin API: signing keys (list, rotate, retire). */
import { z } from 'zod';
import { actorOf, type ApiRoutes, bodyOf, optionalFlag, optionalText, parse } from './context.js';

const rotateBody = z.object({ alg: optionalText('alg'), immediate: optionalFlag('immediate') });

export function registerKeyRoutes({ router, ops }: ApiRoutes): void {
  router.get('/keys', async (ctx) => {
    ctx.body = { items: await ops.listKeys() };
  });
  router.post('/keys/rotate', async (ctx) => {
    const actor = actorOf(ctx);
    const { alg, immediate } = parse(rotateBody, bodyOf(ctx));
    ctx.status = 201;
    ctx.body = await ops.rotateKey(alg ?? 'RS256', immediate === true, actor);
  });
  router.post('/keys/:kid/retire', async (ctx) => {
    ctx.body = await ops.retireKey(ctx.params.kid!, actorOf(ctx));
  });
}
