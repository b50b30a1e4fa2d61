/**
 * Server A of the benchmark: the product itself, started exactly as `startServer` starts it
 * (Postgres, Redis adapter, key store, cached client adapter, the full Koa app in front of
 * oidc-provider), in a process of its own, with DingTalk pointed at the emulator the parent runs.
 * Registers two resource servers (JWT access tokens, RS256 and ES256), a client_credentials client
 * allowed to use them and a relying party (authorization_code + refresh_token, not first-party)
 * through the client store, and reports their credentials to bench/run.ts over IPC.
 */
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../src/config/load.js';
import { createLogger } from '../src/log.js';
import { startServer } from '../src/app/server.js';
import { failStart, freePort, onStop, readChildSettings, RESOURCE_SCOPE, RESOURCES, RP_REDIRECT_URI, send } from './protocol.js';

async function main(): Promise<void> {
  const settings = readChildSettings();
  if (!settings.databaseUrl) throw new Error('databaseUrl is required for the ours server');
  const port = settings.port ?? (await freePort());
  const dingtalk = settings.dingtalk;
  const issuer = `http://127.0.0.1:${port}`;
  const config = loadConfig({
    env: { NODE_ENV: 'test', DATABASE_URL: settings.databaseUrl, REDIS_URL: settings.redisUrl },
    overrides: {
      port,
      host: '127.0.0.1',
      issuer,
      logLevel: 'silent',
      database: { migrateOnStart: true },
      oidc: { signingAlg: 'RS256', ttl: { clientCredentials: 600, accessToken: 3600 } },
      // All load comes from one address: the per-IP browser limits would refuse the login scenario
      // (they aim at floods from one client; here they would measure the limiter, not the server).
      rateLimits: {
        tokenFlood: { points: 1_000_000_000, durationSeconds: 60 },
        browser: { points: 1_000_000_000, durationSeconds: 60 },
        dingtalkCallback: { points: 1_000_000_000, durationSeconds: 60 },
        browserPerAddress: { points: 1_000_000_000, durationSeconds: 60 },
      },
      ...(dingtalk
        ? {
            dingtalk: {
              clientId: dingtalk.clientId,
              clientSecret: dingtalk.clientSecret,
              corpId: dingtalk.corpId,
              loginBaseUrl: dingtalk.url,
              apiBaseUrl: dingtalk.url,
              oapiBaseUrl: dingtalk.url,
              // The login scenario measures our server, not DingTalk's limit: the call budget (15 calls
              // per second per API by default) would cap it; bench/signin-burst.ts measures that.
              callBudget: { perApiPerSecond: 1000, backgroundPerSecond: 1000, egressPerSecond: 10_000, egressBurst: 1000 },
            },
          }
        : {}),
    },
  });
  const logger = createLogger({ logLevel: 'silent' });
  const running = await startServer(config, logger);
  const { services } = running;

  const clientIds: string[] = [];
  onStop(async () => {
    for (const id of clientIds) await services.clientStore.remove(id).catch(() => undefined);
    for (const identifier of Object.values(RESOURCES)) await services.clientStore.removeResourceServer(identifier).catch(() => undefined);
    await running.close();
  });

  for (const [key, identifier] of Object.entries(RESOURCES)) {
    await services.clientStore.removeResourceServer(identifier);
    await services.clientStore.addResourceServer({
      identifier,
      name: `bench ${key}`,
      scopes: [RESOURCE_SCOPE],
      tokenFormat: 'jwt',
      accessTokenTtl: 600,
      signingAlg: key === 'es256' ? 'ES256' : 'RS256',
    });
  }
  const rp = await services.clientStore.add(
    {
      name: 'bench-rp',
      clientId: `bench-rp-${randomBytes(6).toString('hex')}`,
      redirectUris: [RP_REDIRECT_URI],
      grantTypes: ['authorization_code', 'refresh_token'],
    },
    (metadata) => services.holder.validateClient(metadata),
  );
  clientIds.push(rp.clientId);
  if (!rp.clientSecret) throw new Error('the client store returned no secret for the relying party');

  const added = await services.clientStore.add(
    {
      name: 'bench',
      clientId: `bench-${randomBytes(6).toString('hex')}`,
      grantTypes: ['client_credentials'],
      allowedResources: Object.fromEntries(Object.values(RESOURCES).map((identifier) => [identifier, []])),
    },
    (metadata) => services.holder.validateClient(metadata),
  );
  clientIds.push(added.clientId);
  if (!added.clientSecret) throw new Error('the client store returned no secret');

  const keys = await services.keyStore.list();
  send({
    type: 'ready',
    url: running.url,
    clientId: added.clientId,
    clientSecret: added.clientSecret,
    rp: { clientId: rp.clientId, clientSecret: rp.clientSecret },
    pid: process.pid,
    details: {
      issuer: config.issuer,
      signingAlg: config.oidc.signingAlg,
      publishedKeys: keys.filter((key) => key.status === 'active').map((key) => key.alg),
      ttl: { ClientCredentials: config.oidc.ttl.clientCredentials, AccessToken: config.oidc.ttl.accessToken },
      clientCacheMs: config.oidc.clientCacheMs,
      keyCacheMs: config.oidc.keyCacheMs,
      databasePoolMax: config.database.poolMax,
      rateLimits: {
        tokenFlood: config.rateLimits.tokenFlood,
        browser: config.rateLimits.browser,
        dingtalkCallback: config.rateLimits.dingtalkCallback,
      },
      resources: RESOURCES,
      dingtalk: dingtalk ? { emulator: dingtalk.url } : 'built-in emulator',
    },
  });
}

main().catch(failStart);
