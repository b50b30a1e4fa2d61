import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import Koa from 'koa';
import { createApiRouter } from './api-routes.js';
import { faultInjection, qpsLimit } from './faults.js';
import { hostOf, sendApiError, sendOapiError } from './http.js';
import { createLoginRouter } from './login-routes.js';
import { createOapiRouter } from './oapi-routes.js';
import { defaultSeed, type EmulatorSeed } from './seed.js';
import { EmulatorState } from './state.js';
import { StreamGateway } from './stream/gateway.js';
import { createStreamRouter } from './stream/open-route.js';
import type { StreamGatewayOptions } from './stream/types.js';

/** Settings of {@link createEmulator}. */
export interface EmulatorOptions {
  /** The organisation; default: the bundled `seed.json`. */
  seed?: EmulatorSeed;
  /** The one app it knows (AppKey / Client ID) and its secret. */
  clientId: string;
  clientSecret: string;
  /** The organisation's corpId (overrides the seed's). */
  corpId: string;
  /** Base URL browsers reach it at (the login form posts there); default: a relative form action. */
  publicBaseUrl?: string;
  /** Registered redirect URIs (exact match); default: any http(s) URI is accepted. */
  redirectUris?: readonly string[];
  /** Delegated permissions of the app; default `Contact.User.Read`, `Contact.User.mobile`. */
  permissions?: readonly string[];
  /** Calls per second per API before 90018 / `QpsLimitForAppkeyAndApi`; default 20, `false` = off. */
  qpsLimit?: number | false;
  /** Lifetime of login codes; default 5 minutes (undocumented for login codes; JSAPI codes: 5 min). */
  authCodeTtlMs?: number;
  /** Lifetime of access tokens; default 7200 s. */
  tokenTtlSeconds?: number;
  /** Stream mode timings (tickets, redelivery, pings); see `StreamGatewayOptions`. */
  stream?: StreamGatewayOptions;
}

/** A running emulator server. */
export interface RunningEmulator {
  /** e.g. `http://127.0.0.1:41234` — use it as the login, api and oapi base URL. */
  url: string;
  close(): Promise<void>;
}

/** What {@link createEmulator} returns. */
export interface Emulator {
  app: Koa;
  /** Inspect and steer the fake DingTalk: users, codes, tokens, faults, QPS, clock, call log. */
  state: EmulatorState;
  /** Stream mode: connections, pushes and replies, and the hooks to ping, disconnect or drop. */
  stream: StreamGateway;
  /**
   * Serves a WebSocket upgrade aimed at the emulator (the Stream endpoint). `listen()` wires it up
   * itself; whoever mounts `app` under `prefix` forwards their server's `upgrade` events here.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, prefix?: string): void;
  listen(port?: number, host?: string): Promise<RunningEmulator>;
}

/**
 * Builds a DingTalk emulator: one Koa app that plays login.dingtalk.com, api.dingtalk.com and
 * oapi.dingtalk.com with the paths, fields and error shapes of shared/dingtalk-api.md, so that pointing
 * `DINGTALK_*_BASE_URL` at it (dev mode, tests) changes nothing else. Nothing listens until
 * `listen()`; or mount `app` yourself (then set `publicBaseUrl` to where it is mounted).
 */
export function createEmulator(options: EmulatorOptions): Emulator {
  const seed = options.seed ?? defaultSeed();
  const state = new EmulatorState({
    seed: { ...seed, corp: { ...seed.corp, corpId: options.corpId } },
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    corpId: options.corpId,
    ...(options.redirectUris === undefined ? {} : { redirectUris: options.redirectUris }),
    ...(options.permissions === undefined ? {} : { permissions: options.permissions }),
    ...(options.qpsLimit === undefined ? {} : { qpsLimit: options.qpsLimit }),
    ...(options.authCodeTtlMs === undefined ? {} : { authCodeTtlMs: options.authCodeTtlMs }),
    ...(options.tokenTtlSeconds === undefined ? {} : { tokenTtlSeconds: options.tokenTtlSeconds }),
  });

  const app = new Koa();
  const login = createLoginRouter(state, options.publicBaseUrl === undefined ? {} : { publicBaseUrl: options.publicBaseUrl });
  const api = createApiRouter(state);
  const oapi = createOapiRouter(state);
  const stream = new StreamGateway(state, options.stream);
  state.onDirectoryChange((change) => stream.publishChange(change));
  const streamRoutes = createStreamRouter(state, stream, options.publicBaseUrl);

  app.use(async (ctx, next) => {
    state.record(ctx.method, ctx.path);
    ctx.set('Server', 'DingTalk/1.0.0');
    await next();
  });
  app.use(faultInjection(state));
  app.use(qpsLimit(state));
  app.use(login.routes());
  app.use(api.routes());
  app.use(streamRoutes.routes());
  app.use(oapi.routes());
  app.use(async (ctx) => {
    if (ctx.body !== undefined && ctx.body !== null) return;
    const host = hostOf(ctx.path);
    if (host === 'api') {
      // Alibaba-gateway style; the real text for an unknown /v1.0 action is not in dingtalk-api.md.
      return sendApiError(ctx, 404, 'InvalidAction.NotFound', 'Specified api is not found, please check your url and method.');
    }
    if (host === 'oapi') return sendOapiError(ctx, 22, '不合法ApiName'); // PROBE P14
    ctx.status = 405;
  });

  return {
    app,
    state,
    stream,
    handleUpgrade: (req, socket, head, prefix) => stream.handleUpgrade(req, socket, head, prefix),
    listen(port = 0, host = '127.0.0.1') {
      const handle = app.callback();
      // Koa answers its own errors (ctx.onerror), so the request's promise never rejects: nothing to await.
      const server = createServer((req, res) => void handle(req, res));
      server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => stream.handleUpgrade(req, socket, head));
      return new Promise<RunningEmulator>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          const address = server.address() as AddressInfo;
          const printable = address.family === 'IPv6' ? `[${address.address}]` : address.address;
          resolve({
            url: `http://${printable}:${address.port}`,
            close: () =>
              new Promise<void>((done, fail) => {
                stream.close();
                server.close((error) => (error === undefined ? done() : fail(error)));
                // Keep-alive sockets (and requests parked by a `delay` fault) must not hold close().
                server.closeAllConnections();
              }),
          });
        });
      });
    },
  };
}
