/** Admin API: clients (presets, create, update, delete, rotate the secret) and resource servers. */
import { apiClientFormSchema, type ClientForm, parseClientForm } from '../ops/client-schema.js';
import { pageOf } from '../ops/paging.js';
import { z } from 'zod';
import { actorOf, type ApiRoutes, bodyOf, parse, requiredText, stringList } from './context.js';

/** A new resource server; the operations check the identifier, the scopes' characters and the TTL's range. */
const resourceServerBody = z.object({
  scopes: stringList('scopes').optional(),
  tokenFormat: z.enum(['jwt', 'opaque'], { error: 'tokenFormat is jwt or opaque' }).optional(),
  accessTokenTtl: z.number({ error: 'accessTokenTtl is a number of seconds' }).optional(),
  identifier: requiredText('identifier'),
  // Anything but a non-empty string is no name (the identifier is shown instead).
  name: z.unknown().optional(),
});
const identifierQuery = z.object({ identifier: requiredText('identifier') });

export function registerClientRoutes({ router, ops }: ApiRoutes): void {
  router.get('/clients', async (ctx) => {
    const q = typeof ctx.query.q === 'string' ? ctx.query.q : undefined;
    ctx.body = await ops.listClients({ ...(q ? { q } : {}), ...pageOf(ctx.query) });
  });
  router.get('/clients/presets', (ctx) => {
    ctx.body = ops.presets;
  });
  router.get('/clients/:id', async (ctx) => {
    ctx.body = await ops.getClient(ctx.params.id!);
  });
  router.post('/clients', async (ctx) => {
    const actor = actorOf(ctx);
    const result = await ops.createClient(settingsOf(bodyOf(ctx)), actor);
    ctx.status = 201;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = result;
  });
  router.patch('/clients/:id', async (ctx) => {
    const actor = actorOf(ctx);
    ctx.body = await ops.updateClient(ctx.params.id!, settingsOf(bodyOf(ctx)), actor);
  });
  router.delete('/clients/:id', async (ctx) => {
    ctx.body = await ops.deleteClient(ctx.params.id!, actorOf(ctx));
  });
  router.post('/clients/:id/rotate-secret', async (ctx) => {
    const actor = actorOf(ctx);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await ops.rotateClientSecret(ctx.params.id!, actor);
  });
  router.get('/resource-servers', async (ctx) => {
    const { page, pageSize } = pageOf(ctx.query, 100);
    ctx.body = await ops.listResourceServers(page, pageSize);
  });
  router.post('/resource-servers', async (ctx) => {
    const actor = actorOf(ctx);
    const { identifier, name, scopes, tokenFormat, accessTokenTtl } = parse(resourceServerBody, bodyOf(ctx));
    ctx.status = 201;
    ctx.body = await ops.createResourceServer(
      {
        identifier,
        ...(typeof name === 'string' && name ? { name: name.slice(0, 100) } : {}),
        ...(scopes ? { scopes } : {}),
        ...(tokenFormat ? { tokenFormat } : {}),
        ...(accessTokenTtl === undefined ? {} : { accessTokenTtl }),
      },
      actor,
    );
  });
  // The identifier is a URI: given as a query parameter, not a path segment.
  router.delete('/resource-servers', async (ctx) => {
    const actor = actorOf(ctx);
    ctx.body = await ops.deleteResourceServer(parse(identifierQuery, ctx.query).identifier, actor);
  });
}

/** A client's settings from the JSON body (client-schema.ts); absent fields are left out, so an update keeps them. */
function settingsOf(body: Record<string, unknown>): ClientForm {
  return parseClientForm(body, 'admin.invalid_request', apiClientFormSchema);
}
