/**
 * The leaver world: the whole product on the emulator with an event subscription configured (so
 * the server serves `/dingtalk/events` and runs its event inbox worker), a test relying party that
 * records back-channel logout tokens, and helpers to wait for the inbox.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Deprovisioning } from '../../../src/accounts/deprovisioning.js';
import type { InboxItem } from '../../../src/accounts/inbox/index.js';
import type { EmulatorUser } from '../../../src/emulator/index.js';
import { resetState } from '../../helpers/bootstrap.js';
import { type LoginWorld, type RelyingParty, startLoginWorld } from '../../helpers/login-flow.js';

export const EVENT_TOKEN = 'deprovisioning-test-token';
/** 43 Base64 characters, as DingTalk's console generates them. */
export const EVENT_AES_KEY = randomBytes(32)
  .toString('base64')
  .slice(0, 43)
  .replace(/[^A-Za-z0-9]/g, 'x');
/** The owner key of a console-configured subscription: the DingTalk app's Client ID (login-flow.ts). */
export const OWNER_KEY = 'dingtest-app';
export const EVENT_SETTINGS = { token: EVENT_TOKEN, aesKey: EVENT_AES_KEY, ownerKey: OWNER_KEY } as const;

export interface DeprovisioningWorld extends LoginWorld {
  /** Where to push DingTalk events. */
  eventsUrl: string;
  deprovisioning: Deprovisioning;
}

export async function startDeprovisioningWorld(options: { reset?: boolean } = {}): Promise<DeprovisioningWorld> {
  if (options.reset !== false) await resetState();
  const world = await startLoginWorld({ dingtalk: { eventToken: EVENT_TOKEN, eventAesKey: EVENT_AES_KEY } });
  return { ...world, eventsUrl: `${world.server.issuer}/dingtalk/events`, deprovisioning: world.server.services.deprovisioning };
}

/**
 * Waits until the inbox item satisfies `done` (default: no longer pending), waking the worker;
 * gives up after `limitMs` with the item as it was. Not a timing assertion: the bound only keeps a
 * broken worker from hanging the run.
 */
export async function settledItem(
  world: LoginWorld,
  id: string,
  done: (item: InboxItem) => boolean = (item) => item.status !== 'pending',
  limitMs = 20_000,
): Promise<InboxItem> {
  const { inbox } = world.server.services;
  const until = Date.now() + limitMs;
  for (;;) {
    const item = await inbox.get(id);
    if (item && done(item)) return item;
    if (Date.now() > until) throw new Error(`inbox item ${id} did not settle: ${JSON.stringify(item)}`);
    inbox.wake();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A relying party's back-channel logout endpoint that records what it receives. */
export class TestRelyingPartyEndpoint {
  readonly tokens: string[] = [];
  /** Every request, including the refused ones. */
  attempts = 0;
  /** Statuses to answer with, first in first out; then 200. */
  readonly answers: number[] = [];
  #server: Server | undefined;
  #held: (() => void)[] | undefined;
  url = '';

  /** Keeps every answer back until {@link release}: shows that nobody waits for the app. */
  hold(): void {
    this.#held ??= [];
  }

  /** Requests waiting for {@link release}. */
  get held(): number {
    return this.#held?.length ?? 0;
  }

  release(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const answer of held) answer();
  }

  async start(): Promise<this> {
    this.#server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        const answer = () => {
          this.attempts += 1;
          const status = this.answers.shift() ?? 200;
          const token = new URLSearchParams(body).get('logout_token');
          if (status === 200 && token) this.tokens.push(token);
          res.statusCode = status;
          res.end();
        };
        if (this.#held) this.#held.push(answer);
        else answer();
      });
    });
    const server = this.#server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/backchannel-logout`;
    return this;
  }

  reset(): void {
    this.release();
    this.tokens.length = 0;
    this.answers.length = 0;
    this.attempts = 0;
  }

  async close(): Promise<void> {
    this.release();
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

/** RFC 7662 introspection of `token` at the world's issuer, authenticated as `rp`. */
export async function introspectAs(world: LoginWorld, rp: RelyingParty, token: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${world.server.issuer}/token/introspection`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${rp.clientId}:${rp.clientSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ token }),
  });
  if (response.status !== 200) throw new Error(`introspection answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as Record<string, unknown>;
}
