import cluster from 'node:cluster';
import { usesEmulator } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { createLogger } from '../log.js';
import { startServer } from '../app/server.js';
import { startupDone } from './startup-heap.js';
import { runWorkers } from './workers.js';

/** `start`: serve until SIGINT/SIGTERM, then drain and close everything (no orphaned Postgres). */
export async function runStart(config: Config): Promise<number> {
  const logger = createLogger(config);
  if (config.webConcurrency > 1 && cluster.isPrimary) {
    logger.info({ workers: config.webConcurrency, issuer: config.issuer }, 'starting workers');
    return runWorkers(config.webConcurrency, logger);
  }
  const running = await startServer(config, logger);
  startupDone();
  const { services } = running;

  logger.info({ issuer: config.issuer, listening: running.url, env: config.env }, 'issuer ready');
  if (config.env !== 'production' && cluster.isPrimary) {
    const lines = [
      '',
      `  DingTalk OIDC provider is running (${config.env} mode — not for production).`,
      `  Issuer:     ${config.issuer}`,
      `  Discovery:  ${config.issuer}/.well-known/openid-configuration`,
      `  Database:   ${config.database.url ? 'DATABASE_URL' : `embedded PostgreSQL in ${config.database.embeddedDir}/`}`,
      `  State:      ${config.redis.url ? 'REDIS_URL' : 'in memory (lost on restart)'}`,
      `  DingTalk:   ${usesEmulator(config) ? `built-in emulator at ${config.issuer}/dingtalk-emulator (set DINGTALK_CLIENT_ID / DINGTALK_CLIENT_SECRET for the real one)` : 'configured'}`,
      `  Events:     ${config.dingtalk.eventMode === 'stream' ? 'DingTalk Stream (DINGTALK_EVENT_MODE=stream)' : config.dingtalk.eventToken ? `HTTP push to ${config.issuer}/dingtalk/events` : 'off (DINGTALK_EVENT_MODE=http without DINGTALK_EVENT_TOKEN)'}`,
    ];
    const demo = services.demo;
    if (demo) {
      lines.push(
        `  Demo app:   ${config.issuer}/demo  (sign in through the DingTalk emulator)`,
        '',
        '  Demo client (development only):',
        `    client_id:     ${demo.clientId}`,
        `    client_secret: ${demo.clientSecret}`,
        '  Try:',
        `    curl -s -u ${demo.clientId}:${demo.clientSecret} -d grant_type=client_credentials ${config.issuer}/token`,
      );
    }
    console.log(`${lines.join('\n')}\n`);
  }

  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      logger.info({ signal }, 'shutting down');
      const force = setTimeout(() => process.exit(1), 15_000);
      force.unref();
      running.close().then(resolve, (error: unknown) => {
        logger.error({ err: error }, 'error while shutting down');
        resolve();
      });
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  // A cluster worker's channel to the primary would keep it alive.
  if (cluster.isWorker) cluster.worker?.disconnect();
  return 0;
}
