/** Admin API: remembered consents, listed and forgotten. */
import { accountClientFilterOf } from '../ops/filters.js';
import { pageOf } from '../ops/paging.js';
import { actorOf, type ApiRoutes } from './context.js';

export function registerConsentRoutes({ router, ops }: ApiRoutes): void {
  router.get('/consents', async (ctx) => {
    ctx.body = await ops.listConsents({ ...accountClientFilterOf(ctx.query), ...pageOf(ctx.query) });
  });
  router.delete('/consents/:account/:client', async (ctx) => {
    ctx.body = await ops.revokeConsent(ctx.params.account!, ctx.params.client!, actorOf(ctx));
  });
}
