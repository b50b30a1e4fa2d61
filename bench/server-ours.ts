/**
 * Server A of the benchmark: the product itself, started exactly as `startServer` starts it
 * (Postgres, Redis adapter, key store, cached client adapter, the full Koa app in front of
 * oidc-provider), in a process of its own. Registers one client_credentials client through the
 * client store and reports its credentials to bench/run.ts over IPC.
 */
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../src/config/load.js';
import { createLogger } from '../src/log.js';
import { startServer } from '../src/main.js';
import { failStart, freePort, onStop, readChildSettings, send } from './protocol.js';

async function main(): Promise<void> {
  const settings = readChildSettings();
  if (!settings.databaseUrl) throw new Error('databaseUrl is required for the ours server');
  const port = await freePort();
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
    },
  });
  const logger = createLogger({ logLevel: 'silent' });
  const running = await startServer(config, logger);
  const { services } = running;

  let clientId: string | undefined;
  onStop(async () => {
    if (clientId) await services.clientStore.remove(clientId).catch(() => undefined);
    await running.close();
  });

  const added = await services.clientStore.add(
    {
      name: 'bench',
      clientId: `bench-${randomBytes(6).toString('hex')}`,
      grantTypes: ['client_credentials'],
    },
    (metadata) => services.holder.validateClient(metadata),
  );
  clientId = added.clientId;
  if (!added.clientSecret) throw new Error('the client store returned no secret');

  const keys = await services.keyStore.list();
  send({
    type: 'ready',
    url: running.url,
    clientId: added.clientId,
    clientSecret: added.clientSecret,
    pid: process.pid,
    details: {
      issuer: config.issuer,
      signingAlg: config.oidc.signingAlg,
      publishedKeys: keys.filter((key) => key.status === 'active').map((key) => key.alg),
      ttl: { ClientCredentials: config.oidc.ttl.clientCredentials, AccessToken: config.oidc.ttl.accessToken },
      clientCacheMs: config.oidc.clientCacheMs,
      keyCacheMs: config.oidc.keyCacheMs,
      databasePoolMax: config.database.poolMax,
    },
  });
}

main().catch(failStart);
