/**
 * The leaver world: the whole product on the emulator with an event subscription configured, a
 * test relying party that records back-channel logout tokens, and the `/dingtalk/events` URL to
 * push to. Until main.ts mounts the route, it is served by a small Koa app of its own built from
 * the server's services (the same Postgres, Redis, provider and DingTalk client); once it is
 * mounted, the server's own route is used and this falls away.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { createDingTalkEventsRouter } from '../../../src/http/dingtalk-events.js';
import type { Deprovisioning } from '../../../src/accounts/deprovisioning.js';
import { deprovisioningOf } from '../../../src/cli/account-admin.js';
import { createLogger } from '../../../src/log.js';
import type { EmulatorUser } from '../../../src/emulator/index.js';
import { resetState } from '../../helpers/bootstrap.js';
import { type LoginWorld, startLoginWorld } from '../../helpers/login-flow.js';

export const EVENT_TOKEN = 'deprovisioning-test-token';
/** 43 Base64 characters, as DingTalk's console generates them. */
export const EVENT_AES_KEY = randomBytes(32).toString('base64').slice(0, 43).replace(/[^A-Za-z0-9]/g, 'x');
/** The owner key of a console-configured subscription: the DingTalk app's Client ID (login-flow.ts). */
export const OWNER_KEY = 'dingtest-app';
export const EVENT_SETTINGS = { token: EVENT_TOKEN, aesKey: EVENT_AES_KEY, ownerKey: OWNER_KEY } as const;

export interface DeprovisioningWorld extends LoginWorld {
  /** Where to push DingTalk events. */
  eventsUrl: string;
  /** True when the server itself serves /dingtalk/events (main.ts wiring in place). */
  wired: boolean;
  deprovisioning: Deprovisioning;
}

export async function startDeprovisioningWorld(): Promise<DeprovisioningWorld> {
  await resetState();
  const world = await startLoginWorld({ dingtalk: { eventToken: EVENT_TOKEN, eventAesKey: EVENT_AES_KEY } });
  const deprovisioning = deprovisioningOf(world.server.services);
  const probe = await fetch(`${world.server.issuer}/dingtalk/events`, { method: 'POST' });
  await probe.body?.cancel();
  const wired = probe.status !== 404;
  if (wired) {
    return { ...world, eventsUrl: `${world.server.issuer}/dingtalk/events`, wired, deprovisioning };
  }

  // Not wired yet: the route in a Koa app of its own. (Logout tokens reach the test RP on 127.0.0.1
  // because configuration.ts's `fetch` drops oidc-provider's SSRF guard, and retry because it retries.)
  const app = new Koa();
  const router = createDingTalkEventsRouter({
    ...EVENT_SETTINGS,
    handleEvent: (event) => deprovisioning.handleEvent(event),
    logger: createLogger({ logLevel: 'silent' }),
  });
  app.use(router.routes());
  const server = createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    ...world,
    eventsUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/dingtalk/events`,
    wired,
    deprovisioning,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await world.close();
    },
  };
}

/** A relying party's back-channel logout endpoint that records what it receives. */
export class TestRelyingPartyEndpoint {
  readonly tokens: string[] = [];
  /** Every request, including the refused ones. */
  attempts = 0;
  /** Statuses to answer with, first in first out; then 200. */
  readonly answers: number[] = [];
  #server: Server | undefined;
  url = '';

  async start(): Promise<this> {
    this.#server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        this.attempts += 1;
        const status = this.answers.shift() ?? 200;
        const token = new URLSearchParams(body).get('logout_token');
        if (status === 200 && token) this.tokens.push(token);
        res.statusCode = status;
        res.end();
      });
    });
    const server = this.#server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/backchannel-logout`;
    return this;
  }

  reset(): void {
    this.tokens.length = 0;
    this.answers.length = 0;
    this.attempts = 0;
  }

  async close(): Promise<void> {
    const server = this.#server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

let people = 0;

/** A new member of the emulator's organisation (platform team, department 101) who never signed in. */
export function newMember(world: LoginWorld, overrides: Partial<EmulatorUser> = {}): EmulatorUser {
  people += 1;
  const tag = `${Date.now().toString(36)}${people}`;
  return world.emulator.state.addUser({
    userid: `dp${tag}`,
    unionid: `Dp${tag}iEiE`,
    name: `离职测试${people}`,
    state_code: '86',
    mobile: `1380013${String(people).padStart(4, '0')}`,
    org_email: `dp${tag}@yunqi-tech.cn`,
    title: '后端工程师',
    job_number: `T${tag}`,
    dept_id_list: [101],
    active: true,
    ...overrides,
  });
}
