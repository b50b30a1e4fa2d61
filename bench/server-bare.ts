/**
 * Server B of the benchmark: a bare oidc-provider 9 on node:http, the baseline that server A is
 * compared against. Same storage (our Redis adapter on the same Redis server, another database),
 * same key type (one RS256 key made with jose), same TTLs and clock tolerance, the
 * clientCredentials and introspection features with an explicit allowedPolicy, and one static
 * client_secret_basic client with a 43-character secret. No Koa app in front, no Postgres, no
 * extra features.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import Provider, { type Configuration } from 'oidc-provider';
import { createRedis } from '../src/store/redis.js';
import { createRedisAdapterFactory } from '../src/store/redis-adapter.js';
import { failStart, freePort, onStop, readChildSettings, send } from './protocol.js';

async function main(): Promise<void> {
  const settings = readChildSettings();
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;

  const redis = createRedis(settings.redisUrl);
  await redis.ping();

  const { privateKey } = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);

  const clientId = 'bench-bare';
  const clientSecret = randomBytes(32).toString('base64url'); // 43 characters, like ours

  const configuration: Configuration = {
    adapter: createRedisAdapterFactory(redis, { clockTolerance: 15 }),
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [{ ...jwk, kid, alg: 'RS256', use: 'sig' } as never] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    routes: { token: '/token', introspection: '/token/introspection' },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // Same rule as ours: an authenticated client may introspect any token, a public one only its own.
        allowedPolicy: async (ctx, client, token) =>
          !(client.clientAuthMethod === 'none' && token.clientId !== ctx.oidc.client?.clientId),
      },
    },
    ttl: { ClientCredentials: 600, AccessToken: 3600 },
    clockTolerance: 15,
  };

  const server = http.createServer();
  server.keepAliveTimeout = 65_000; // as startServer does
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const provider = new Provider(issuer, configuration);
  // All middleware is in place before callback(): koa-compose copies the list at that moment.
  server.on('request', provider.callback());

  onStop(async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    await redis.quit().catch(() => undefined);
  });

  send({
    type: 'ready',
    url: issuer,
    clientId,
    clientSecret,
    pid: process.pid,
    details: {
      issuer,
      signingAlg: 'RS256',
      publishedKeys: ['RS256'],
      ttl: configuration.ttl,
      clockTolerance: configuration.clockTolerance,
    },
  });
}

main().catch(failStart);
