/**
 * The baselines of the benchmark: a bare oidc-provider 9 on node:http, what a user would otherwise
 * run. Its storage (settings.adapter): `simple` (the baseline, "bare"), the simplest correct Redis
 * adapter, one command per write (bench/simple-redis-adapter.ts); or `ours` (the second baseline,
 * "bare-our-adapter"): our Redis adapter, so the difference between the two is what our adapter
 * costs. Each on a redis-server of its own. Same key types (an RS256 and an ES256 key made with jose, RS256 signs ID tokens), same TTLs and
 * clock tolerance, the clientCredentials, introspection and resourceIndicators features (two
 * resource servers issuing JWT access tokens, RS256 and ES256, like ours), and two static
 * client_secret_basic clients with 43-character secrets: a service (client_credentials) and a
 * relying party (authorization_code + refresh_token). Bare has no login, so the relying party's
 * refresh token and access token are made with the provider's models at start. No Koa app in
 * front, no Postgres, no extra features.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import Provider, { type Configuration, errors } from 'oidc-provider';
import { Redis } from 'ioredis';
import { createRedisAdapterFactory } from '../src/store/redis-adapter.js';
import { createSimpleRedisAdapter } from './simple-redis-adapter.js';
import { failStart, freePort, onStop, readChildSettings, RESOURCE_SCOPE, RESOURCES, RP_REDIRECT_URI, send } from './protocol.js';

async function main(): Promise<void> {
  const settings = readChildSettings();
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;

  const redis = new Redis(settings.redisUrl);
  await redis.ping();

  const { privateKey } = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  const ec = await exportJWK((await generateKeyPair('ES256', { extractable: true })).privateKey);
  const ecKid = await calculateJwkThumbprint(ec);
  const rpId = 'bench-bare-rp';
  const rpSecret = randomBytes(32).toString('base64url');
  const resourceAlgs: Record<string, 'RS256' | 'ES256'> = { [RESOURCES.rs256]: 'RS256', [RESOURCES.es256]: 'ES256' };

  const clientId = 'bench-bare';
  const clientSecret = randomBytes(32).toString('base64url'); // 43 characters, like ours

  const configuration: Configuration = {
    adapter: settings.adapter === 'ours' ? createRedisAdapterFactory(redis, { clockTolerance: 15 }) : createSimpleRedisAdapter(redis, 15),
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      {
        client_id: rpId,
        client_secret: rpSecret,
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: [RP_REDIRECT_URI],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: {
      keys: [
        { ...jwk, kid, alg: 'RS256', use: 'sig' },
        { ...ec, kid: ecKid, alg: 'ES256', use: 'sig' },
      ],
    },
    findAccount: async (_ctx, sub) => ({
      accountId: sub,
      claims: async () => ({ sub, name: '陈晓明', nickname: 'boss', preferred_username: 'boss', email: 'boss@example.com' }),
    }),
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    routes: { token: '/token', introspection: '/token/introspection' },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // Same rule as ours: an authenticated client may introspect any token, a public one only its own.
        allowedPolicy: async (ctx, client, token) => !(client.clientAuthMethod === 'none' && token.clientId !== ctx.oidc.client?.clientId),
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, _client, oneOf) => oneOf,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, indicator) => {
          const alg = resourceAlgs[indicator];
          if (!alg) throw new errors.InvalidTarget();
          return { scope: RESOURCE_SCOPE, audience: indicator, accessTokenTTL: 600, accessTokenFormat: 'jwt', jwt: { sign: { alg } } };
        },
      },
    },
    ttl: { ClientCredentials: 600, AccessToken: 3600, RefreshToken: 14 * 24 * 3600, Grant: 14 * 24 * 3600 },
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
  const handle = provider.callback();
  // Koa answers its own errors (ctx.onerror), so the request's promise never rejects: nothing to await.
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => void handle(req, res));

  // The relying party's tokens, as a login would leave them (scope openid profile, RS256 ID tokens).
  const accountId = 'bench-account';
  const client = await provider.Client.find(rpId);
  if (!client) throw new Error('the relying party client is missing');
  const grant = new provider.Grant({ accountId, clientId: rpId });
  grant.addOIDCScope('openid profile');
  const grantId = await grant.save();
  const now = Math.floor(Date.now() / 1000);
  const refresh = new provider.RefreshToken({
    accountId,
    client,
    grantId,
    scope: 'openid profile',
    gty: 'authorization_code',
    authTime: now,
    iiat: now,
    rotations: 0,
  });
  const refreshToken = await refresh.save();
  const access = new provider.AccessToken({ accountId, client, grantId, scope: 'openid profile', gty: 'authorization_code' });
  const accessToken = await access.save();

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
    rp: { clientId: rpId, clientSecret: rpSecret },
    tokens: { refreshToken, accessToken },
    pid: process.pid,
    details: {
      issuer,
      adapter: settings.adapter === 'ours' ? 'ours (src/store/redis-adapter.ts)' : 'simple (bench/simple-redis-adapter.ts)',
      signingAlg: 'RS256',
      publishedKeys: ['RS256', 'ES256'],
      resources: resourceAlgs,
      ttl: configuration.ttl,
      clockTolerance: configuration.clockTolerance,
    },
  });
}

main().catch(failStart);
