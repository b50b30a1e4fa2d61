/**
 * A server process: the composed services (app/compose.ts) behind an HTTP listener (which answers
 * discovery and the JWKS from memory itself, http/well-known.ts), with the emulator's Stream
 * WebSocket and /metrics on its own port where configured. Starts the event inbox's worker and the
 * Stream connection once listening; close() drains in the reverse order.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { ensureAdminClient } from '../admin/ops/admin-client.js';
import type { Config } from '../config/schema.js';
import { listenForMetrics } from '../http/metrics-server.js';
import type { Logger } from '../log.js';
import { composeServer, type ServerServices } from './compose.js';
import { EMULATOR_PATH } from './dingtalk.js';

export interface RunningServer {
  url: string;
  /** Where /metrics is served when METRICS_PORT is set. */
  metricsUrl?: string;
  services: ServerServices;
  server: http.Server;
  close(): Promise<void>;
}

/** Start serving; resolves once listening. */
export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  const services = await composeServer(config, logger);
  // The admin console's client and the admin API's resource server (idempotent).
  try {
    await ensureAdminClient(services.clientStore, config.issuer);
  } catch (error) {
    await services.close();
    throw error;
  }
  const handle = services.app.callback();
  // Discovery and the JWKS from memory before Koa makes a context (http/well-known.ts); whatever
  // `answer` leaves goes to Koa, which answers its own errors (ctx.onerror), so the request's
  // promise never rejects: nothing to await. Cluster workers start here too (cli/start.ts).
  const { answer } = services.wellKnown;
  const server = http.createServer((req, res) => {
    if (!answer(req, res)) void handle(req, res);
  });
  server.keepAliveTimeout = 65_000; // longer than common load balancer idle timeouts
  // The built-in emulator's Stream endpoint is a WebSocket on this same server.
  const { emulator } = services;
  if (emulator) {
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      if (req.url?.startsWith(`${EMULATOR_PATH}/`)) emulator.handleUpgrade(req, socket, head, EMULATOR_PATH);
      else socket.destroy();
    });
  }
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => resolve());
    });
  } catch (error) {
    await services.close(); // or the embedded PostgreSQL and the pools keep the process alive
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(
      code === 'EADDRINUSE'
        ? `port ${config.port} is already in use (PORT)`
        : `cannot listen on ${config.host}:${config.port}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const metricsServer = await listenForMetrics(config, services.metrics).catch(async (error: unknown) => {
    server.close();
    await services.close();
    throw error;
  });
  const { port } = server.address() as AddressInfo;
  services.inbox.startWorker();
  services.eventStream?.client.start();
  let closing: Promise<void> | undefined;
  const host = config.host === '0.0.0.0' ? 'localhost' : config.host;
  return {
    url: `http://${host}:${port}`,
    ...(metricsServer ? { metricsUrl: `http://${host}:${(metricsServer.address() as AddressInfo).port}/metrics` } : {}),
    services,
    server,
    close() {
      closing ??= (async () => {
        // WebSockets are not idle HTTP connections: close them first, or server.close() waits on them.
        await services.eventStream?.stop();
        emulator?.stream.close();
        metricsServer?.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        });
        await services.close();
      })();
      return closing;
    },
  };
}
