import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import Koa from 'koa';
import { createApiRouter } from './api-routes.js';
import { addressLimit, faultInjection, qpsLimit } from './faults.js';
import type { AddressLimit, QpsWindow } from './limits.js';
import { hostOf, sendApiError, sendOapiError } from './http.js';
import { createLoginRouter, type CallbackCodeParam } from './login-routes.js';
import { createDirectoryRouter } from './directory-routes.js';
import { createJsapiRouter } from './jsapi.js';
import { createOapiRouter } from './oapi-routes.js';
import type { GeneratedOrgOptions } from './org-generator.js';
import { defaultSeed, type EmulatorSeed } from './seed.js';
import { EmulatorState } from './state.js';
import { StreamGateway } from './stream/gateway.js';
import { createStreamRouter } from './stream/open-route.js';
import type { StreamGatewayOptions } from './stream/types.js';

/** Settings of {@link createEmulator}. */
export interface EmulatorOptions {
  /** The organisation; default: the bundled `seed.json`. */
  seed?: EmulatorSeed;
  /**
   * An organisation generated beside the seed's, deterministically from `seed`: `{ size: 10_000 }`
   * gives 10 000 people in about 500 departments several levels deep (org-generator.ts).
   */
  generatedOrg?: GeneratedOrgOptions;
  /** The one app it knows (AppKey / Client ID) and its secret. */
  clientId: string;
  clientSecret: string;
  /** The organisation's corpId (overrides the seed's). */
  corpId: string;
  /** Base URL browsers reach it at (the login form posts there); default: a relative form action. */
  publicBaseUrl?: string;
  /**
   * The query parameters that carry the code on the login callback: default both `authCode` (the
   * documented name) and `code` (observed, §1.2); `['code']` or `['authCode']` alone for a stricter test.
   */
  callbackCodeParams?: readonly CallbackCodeParam[];
  /** Registered redirect URIs (exact match); default: any http(s) URI is accepted. */
  redirectUris?: readonly string[];
  /** The app's permissions (`PERMISSION`); default: all of them. */
  permissions?: readonly string[];
  /** Calls per second per API before 90018 / `QpsLimitForAppkeyAndApi` (§6.1); default 20, `false` = off. */
  qpsLimit?: number | false;
  /**
   * How that second is counted: `aligned` (default, calendar seconds) or `sliding` (any second: the
   * stricter reading, which §6.1 tells clients to assume; not the default because the emulator shares
   * its process with the server in tests, and a busy event loop bunches arrivals that left paced).
   */
  qpsWindow?: QpsWindow;
  /** oapi's answer over that limit: `90018` (default) or `88`, the "momentary ban" of §2.5. */
  throttleErrcode?: 90018 | 88;
  /** The per-address block (§6.1); default 10 000 requests in 20 s block for 5 minutes; `false` = off. */
  addressLimit?: AddressLimit | false;
  /** The clock under `state.advanceTime`; default `Date.now` (tests of limits pass one that stands still). */
  clock?: () => number;
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
 * Builds a DingTalk emulator: one Koa app that plays login.dingtalk.com, api.dingtalk.com,
 * oapi.dingtalk.com and the CDN's JSAPI script (jsapi.ts) with the paths, fields and error shapes of shared/dingtalk-api.md, so that pointing
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
    ...(options.generatedOrg === undefined ? {} : { generatedOrg: options.generatedOrg }),
    ...(options.redirectUris === undefined ? {} : { redirectUris: options.redirectUris }),
    ...(options.permissions === undefined ? {} : { permissions: options.permissions }),
    ...(options.qpsLimit === undefined ? {} : { qpsLimit: options.qpsLimit }),
    ...(options.qpsWindow === undefined ? {} : { qpsWindow: options.qpsWindow }),
    ...(options.throttleErrcode === undefined ? {} : { throttleErrcode: options.throttleErrcode }),
    ...(options.addressLimit === undefined ? {} : { addressLimit: options.addressLimit }),
    ...(options.authCodeTtlMs === undefined ? {} : { authCodeTtlMs: options.authCodeTtlMs }),
    ...(options.tokenTtlSeconds === undefined ? {} : { tokenTtlSeconds: options.tokenTtlSeconds }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });

  const app = new Koa();
  const login = createLoginRouter(state, {
    ...(options.publicBaseUrl === undefined ? {} : { publicBaseUrl: options.publicBaseUrl }),
    ...(options.callbackCodeParams === undefined ? {} : { callbackCodeParams: options.callbackCodeParams }),
  });
  const api = createApiRouter(state);
  const oapi = createOapiRouter(state);
  const directory = createDirectoryRouter(state);
  const jsapi = createJsapiRouter(state);
  const stream = new StreamGateway(state, options.stream);
  state.onDirectoryChange((change) => stream.publishChange(change));
  const streamRoutes = createStreamRouter(state, stream, options.publicBaseUrl);

  app.use(async (ctx, next) => {
    state.record(ctx.method, ctx.path);
    ctx.set('Server', 'DingTalk/1.0.0');
    await next();
  });
  app.use(addressLimit(state));
  app.use(faultInjection(state));
  app.use(qpsLimit(state));
  app.use(login.routes());
  app.use(api.routes());
  app.use(streamRoutes.routes());
  app.use(oapi.routes());
  app.use(directory.routes());
  app.use(jsapi.routes());
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
