import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { createAuditLog } from '../../../src/accounts/audit.js';
import { createDeprovisioning } from '../../../src/accounts/deprovisioning.js';
import { createEventInbox } from '../../../src/accounts/inbox/index.js';
import { createDatabase } from '../../../src/db/sequelize.js';
import { parseHttpPush } from '../../../src/dingtalk/index.js';
import { parseStreamFrame } from '../../../src/dingtalk/stream-frames.js';
import { contactEvent, pushEvent, type EmulatorUser } from '../../../src/emulator/index.js';
import { createDingTalkEventsRouter } from '../../../src/http/dingtalk-events.js';
import { createLogger } from '../../../src/log.js';
import { createMemoryMarkerStore } from '../../../src/store/markers.js';
import { createRedisAccountIndex } from '../../../src/store/redis-adapter.js';
import { freePort, startTestServer, TEST_DATABASE_URL, TEST_REDIS_URL, type TestServer } from '../../helpers/bootstrap.js';
import { Browser } from '../../helpers/browser.js';
import { unreachableRedis } from '../../helpers/redis.js';
import { CORP_ID, exchangeCode, loginViaDingTalk, registerRelyingParty, type RelyingParty } from '../../helpers/login-flow.js';
import {
  type DeprovisioningWorld,
  EVENT_AES_KEY,
  EVENT_SETTINGS,
  EVENT_TOKEN,
  newMember,
  settledItem,
  startDeprovisioningWorld,
  TestRelyingPartyEndpoint,
} from './harness.js';

const silent = createLogger({ logLevel: 'silent' });

/** An inbox of the test's own on the server's database, retrying at once and failing after 3 attempts. */
function quickInbox(services: TestServer['services']) {
  return createEventInbox({
    sequelize: services.db.sequelize,
    models: services.db.models,
    deprovisioning: services.deprovisioning,
    logger: silent,
    corpId: CORP_ID,
    timings: { maxAttempts: 3, backoffBaseMs: 1, backoffMaxMs: 1 },
  });
}
const BIN = path.resolve(import.meta.dirname, '../../../bin/dingtalk-oidc.js');

describe('the durable event inbox (HTTP pushes, real Postgres and Redis)', function () {
  let world: DeprovisioningWorld;
  let endpoint: TestRelyingPartyEndpoint;
  let rp: RelyingParty;

  before(async function () {
    world = await startDeprovisioningWorld();
    endpoint = await new TestRelyingPartyEndpoint().start();
    rp = await registerRelyingParty(world, { name: 'Wiki', backchannelLogoutUri: endpoint.url });
  });

  after(async function () {
    await endpoint?.close();
    await world?.close();
  });

  beforeEach(function () {
    endpoint.reset();
    world.server.services.inbox.startWorker();
  });

  const inbox = () => world.server.services.inbox;
  const models = () => world.server.services.db.models;

  function push(event: Record<string, unknown> | string, url = world.eventsUrl) {
    return pushEvent(url, event, EVENT_SETTINGS);
  }

  function idOf(event: Record<string, unknown> | string): string {
    const parsed = parseHttpPush(typeof event === 'string' ? event : JSON.stringify(event));
    if (parsed.kind !== 'event') throw new Error('not an event');
    return parsed.event.id;
  }

  /** A leave as a process that died right after recording it leaves it: pending, urgent part not done. */
  async function recordStrandedLeave(event: Record<string, unknown>, userid: string, nextAttemptAt: Date): Promise<void> {
    await models().InboxEvent.create({
      id: idOf(event),
      transport: 'http',
      type: 'user_leave_org',
      corpId: CORP_ID,
      userIds: [userid],
      occurredAt: null,
      payload: event,
      status: 'pending',
      reason: null,
      urgentDoneAt: null,
      nextAttemptAt,
      finishedAt: null,
    });
  }

  async function signIn(person: EmulatorUser) {
    const browser = new Browser();
    const { callback, request } = await loginViaDingTalk(world, browser, rp, person.unionid, { scope: 'openid profile offline_access' });
    const tokens = await exchangeCode(rp, callback, request);
    const account = await models().Account.findOne({ where: { unionId: person.unionid } });
    return { tokens, account: account!, sid: tokens.claims()!.sid as string };
  }

  async function statusOf(accountId: string) {
    return (await models().Account.findByPk(accountId))?.status;
  }

  describe('malformed and unwanted events', function () {
    it('acknowledges DeptId given as strings that are not numbers and lists it as failed, with the reason', async function () {
      const event = { EventType: 'org_dept_modify', DeptId: ['研发', 'x1'], CorpId: CORP_ID, TimeStamp: String(Date.now()) };
      expect(await push(event)).to.include({ accepted: true, reply: 'success' });
      const item = await inbox().get(idOf(event));
      expect(item).to.deep.include({ status: 'failed', reason: 'DeptId is not a list of department ids', type: null });
      expect((await inbox().list({ status: 'failed' })).items.map((i) => i.id)).to.include(idOf(event));
    });

    it('reads DeptId given as numeric strings, as some payloads send them', async function () {
      const event = { EventType: 'org_dept_modify', DeptId: ['100'], CorpId: CORP_ID, TimeStamp: String(Date.now()) };
      expect(await push(event)).to.include({ accepted: true, reply: 'success' });
      expect(await settledItem(world, idOf(event))).to.deep.include({ status: 'done', departmentIds: [100], type: 'org_dept_modify' });
    });

    it('acknowledges a payload that is not JSON and lists it as failed', async function () {
      const text = 'this is not json {';
      expect(await push(text)).to.include({ accepted: true, reply: 'success' });
      expect(await inbox().get(idOf(text))).to.deep.include({ status: 'failed', reason: 'payload is not JSON' });
      try {
        await inbox().retry(idOf(text));
        expect.fail('retried');
      } catch (error) {
        expect(error).to.deep.include({ code: 'inbox.not_retryable', status: 409 });
      }
    });

    it('acknowledges an unknown event type and lists it as failed; a retry cannot make it succeed', async function () {
      const event = { EventType: 'org_remove', CorpId: CORP_ID, TimeStamp: String(Date.now()) };
      expect(await push(event)).to.include({ accepted: true, reply: 'success' });
      expect(await inbox().get(idOf(event))).to.deep.include({ status: 'failed', reason: 'unknown event type', type: 'org_remove' });
      await inbox().retry(idOf(event));
      expect(await settledItem(world, idOf(event))).to.deep.include({
        status: 'failed',
        attempts: 1,
        reason: 'inbox.unknown_type: unknown event type',
      });
    });

    it('counts every event by type and outcome, and the inbox by status, in /metrics', async function () {
      const text = await world.server.services.metrics.registry.metrics();
      expect(text).to.match(/dingtalk_events_total\{transport="http",type="unreadable",outcome="unreadable"\} [1-9]/);
      expect(text).to.match(/dingtalk_events_total\{transport="http",type="other",outcome="unknown_type"\} [1-9]/);
      expect(text).to.match(/event_inbox_items\{status="failed"\} [1-9]/);
      expect(text).to.match(/event_inbox_items\{status="done"\} [1-9]/);
    });
  });

  describe('a redelivery', function () {
    it('is a no-op: one record, the account stays as an admin left it', async function () {
      const person = newMember(world);
      const { account } = await signIn(person);
      const event = contactEvent('user_leave_org', [person.userid!], CORP_ID);
      expect(await push(event)).to.include({ accepted: true });
      await settledItem(world, idOf(event));
      await world.deprovisioning.enable(account, { actor: 'test' });
      expect(await push(event)).to.include({ accepted: true, reply: 'success' });
      expect(await statusOf(account.id)).to.equal('active');
      expect(await models().InboxEvent.count({ where: { id: idOf(event) } })).to.equal(1);
      const text = await world.server.services.metrics.registry.metrics();
      expect(text).to.match(/dingtalk_events_total\{transport="http",type="user_leave_org",outcome="duplicate"\} [1-9]/);
    });

    it('of an event recorded just before a crash, urgent part not done, does the urgent part', async function () {
      const person = newMember(world);
      const { account, tokens } = await signIn(person);
      const event = contactEvent('user_leave_org', [person.userid!], CORP_ID);
      // What a process that died right after recording the event leaves behind.
      await recordStrandedLeave(event, person.userid!, new Date(Date.now() + 3_600_000));
      endpoint.hold();
      expect(await push(event)).to.include({ accepted: true, reply: 'success' });
      expect(await statusOf(account.id)).to.equal('disabled');
      expect(await world.server.services.holder.current().AccessToken.find(tokens.access_token)).to.equal(undefined);
      endpoint.release();
      expect(await settledItem(world, idOf(event))).to.deep.include({ status: 'done', urgentDone: true });
      expect(endpoint.tokens).to.have.length(1);
    });

    it('never comes, yet a worker does the urgent part once the grace period is over', async function () {
      const person = newMember(world);
      const { account } = await signIn(person);
      const event = contactEvent('user_leave_org', [person.userid!], CORP_ID);
      await recordStrandedLeave(event, person.userid!, new Date(Date.now() - 1000));
      expect(await settledItem(world, idOf(event))).to.deep.include({ status: 'done', urgentDone: true, attempts: 1 });
      expect(await statusOf(account.id)).to.equal('disabled');
      expect(endpoint.tokens).to.have.length(1);
    });
  });

  describe('transient failures', function () {
    it('answers 503 (LATER) when PostgreSQL cannot be reached, so DingTalk sends the event again', async function () {
      const { services } = world.server;
      // An inbox on a PostgreSQL that is not there (nothing listens on port 1).
      const down = createDatabase('postgres://postgres@127.0.0.1:1/nowhere', { poolMax: 1 });
      const unreachable = createEventInbox({
        sequelize: down.sequelize,
        models: down.models,
        deprovisioning: services.deprovisioning,
        logger: silent,
        corpId: CORP_ID,
      });
      const app = new Koa();
      app.use(createDingTalkEventsRouter({ ...EVENT_SETTINGS, sink: unreachable.receive, logger: silent }).routes());
      const handle = app.callback();
      // Koa answers its own errors (ctx.onerror), so the request's promise never rejects.
      const server = createServer((req, res) => void handle(req, res));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dingtalk/events`;
        const person = newMember(world);
        expect(await push(contactEvent('user_leave_org', [person.userid!], CORP_ID), url)).to.include({ accepted: false, status: 503 });
        expect(await unreachable.receive({ id: 'x', transport: 'stream', reason: 'test', raw: null })).to.equal('LATER');
      } finally {
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await down.close();
      }
    });

    it('retries a logout token the app refuses, with backoff, then marks the item failed with the reason', async function () {
      const { services } = world.server;
      await services.inbox.stop(); // this test's own inbox does the work, with tiny delays
      const quick = quickInbox(services);
      const person = newMember(world);
      const { account } = await signIn(person);
      const event = contactEvent('user_leave_org', [person.userid!], CORP_ID);
      expect(await quick.receive(parseEvent(event))).to.equal('SUCCESS');
      expect(await statusOf(account.id)).to.equal('disabled');
      endpoint.answers.push(...Array.from({ length: 20 }, () => 500));
      for (let attempt = 1; attempt <= 3; attempt += 1) {
        await new Promise((resolve) => setTimeout(resolve, 5)); // past the 1 ms backoff
        expect(await quick.runOnce(), `attempt ${attempt} taken`).to.equal(true);
        const item = await quick.get(idOf(event));
        expect(item).to.deep.include({ attempts: attempt, status: attempt < 3 ? 'pending' : 'failed', pendingLogouts: 1 });
        expect(item?.reason).to.equal(`logout token not delivered to ${rp.clientId}`);
      }
      expect(await quick.runOnce(), 'nothing left to take').to.equal(false);
      const failedAudit = await models().AuditEvent.findAll({ where: { accountId: account.id, type: 'logout.backchannel_failed' } });
      expect(failedAudit, 'audited once, when no retry is left').to.have.length(1);

      // An operator retries once the app is back: delivered.
      endpoint.answers.length = 0;
      expect((await quick.retry(idOf(event))).item).to.deep.include({ status: 'pending', attempts: 0 });
      expect(await quick.runOnce()).to.equal(true);
      expect(await quick.get(idOf(event))).to.deep.include({ status: 'done', pendingLogouts: 0, reason: null });
      expect(endpoint.tokens).to.have.length(1);
    });
    it("redoes the urgent part on the next attempt when the worker's redo of it failed", async function () {
      const { services } = world.server;
      await services.inbox.stop(); // these tests' own inboxes do the work
      const person = newMember(world);
      const { account, tokens } = await signIn(person);
      // A deprovisioning whose session index is a Redis that is not there (nothing listens on port 1).
      const deadRedis = unreachableRedis();
      const broken = createEventInbox({
        sequelize: services.db.sequelize,
        models: services.db.models,
        deprovisioning: createDeprovisioning({
          models: services.db.models,
          provider: () => services.holder.current(),
          accountIndex: createRedisAccountIndex(deadRedis),
          directory: services.dingtalk.directory,
          audit: createAuditLog(services.db.models, silent),
          logger: silent,
          corpId: CORP_ID,
          markers: createMemoryMarkerStore(),
        }),
        logger: silent,
        corpId: CORP_ID,
        timings: { maxAttempts: 3, backoffBaseMs: 1, backoffMaxMs: 1 },
      });
      const quick = quickInbox(services);
      const event = contactEvent('user_leave_org', [person.userid!], CORP_ID);
      // Recorded, urgent part not done, grace period over: the worker's to do.
      await recordStrandedLeave(event, person.userid!, new Date(Date.now() - 1000));
      try {
        expect(await broken.runOnce(), 'first attempt taken').to.equal(true);
        expect(await quick.get(idOf(event))).to.deep.include({ status: 'pending', attempts: 1, urgentDone: false });
        expect(await services.holder.current().AccessToken.find(tokens.access_token), 'not revoked yet').to.not.equal(undefined);
        await new Promise((resolve) => setTimeout(resolve, 5)); // past the 1 ms backoff
        expect(await quick.runOnce(), 'second attempt taken').to.equal(true);
        expect(await quick.get(idOf(event))).to.deep.include({ status: 'done', attempts: 2, urgentDone: true });
        expect(await statusOf(account.id)).to.equal('disabled');
        expect(await services.holder.current().AccessToken.find(tokens.access_token)).to.equal(undefined);
        expect(endpoint.tokens).to.have.length(1);
      } finally {
        deadRedis.disconnect();
      }
    });
  });

  describe("Stream pushes (our own app's connection)", function () {
    /** A Stream EVENT frame (dingtalk-api.md §10.3), read by the Stream parser. */
    function streamEvent(headers: Record<string, unknown>, data: unknown) {
      const text = JSON.stringify({
        specVersion: '1.0',
        type: 'EVENT',
        headers: { messageId: randomUUID(), topic: '*', eventType: 'user_leave_org', eventId: randomUUID(), ...headers },
        data: JSON.stringify(data),
      });
      const push = parseStreamFrame(text);
      if (push.kind !== 'event') throw new Error(`not an event: ${push.kind}`);
      return push.event;
    }

    it('cuts off a leaver whose push has no eventCorpId header (the connection is ours)', async function () {
      const person = newMember(world);
      const { account, tokens } = await signIn(person);
      const event = streamEvent({}, { timeStamp: String(Date.now()), userId: [person.userid!] });
      expect(await inbox().receive(event)).to.equal('SUCCESS');
      expect(await statusOf(account.id)).to.equal('disabled');
      expect(await world.server.services.holder.current().AccessToken.find(tokens.access_token)).to.equal(undefined);
      expect(await settledItem(world, event.id)).to.deep.include({ status: 'done', urgentDone: true });
    });

    it('ignores a push that names another organisation, in the header or in the data', async function () {
      const person = newMember(world);
      const { account } = await signIn(person);
      for (const event of [
        streamEvent({ eventCorpId: 'dingother' }, { userId: [person.userid!] }),
        streamEvent({}, { CorpId: 'dingother', userId: [person.userid!] }),
      ]) {
        expect(await inbox().receive(event)).to.equal('SUCCESS');
        expect(await inbox().get(event.id)).to.deep.include({ status: 'ignored', reason: 'event of another organisation' });
      }
      expect(await statusOf(account.id)).to.equal('active');
    });

    it('reads the leaver from userIds or UserId, and junk deptId or timeStamp does not sink it', async function () {
      for (const data of [
        (userid: string) => ({ userIds: [userid], deptId: 'sales', timeStamp: { at: 1 } }),
        (userid: string) => ({ UserId: userid, deptId: [null] }),
      ]) {
        const person = newMember(world);
        const { account } = await signIn(person);
        const event = streamEvent({ eventCorpId: CORP_ID }, data(person.userid!));
        expect(await inbox().receive(event)).to.equal('SUCCESS');
        expect(await statusOf(account.id)).to.equal('disabled');
        expect(await settledItem(world, event.id)).to.deep.include({ status: 'done', userIds: [person.userid!] });
      }
    });

    it('lists a leave that names nobody as failed with the reason, not done', async function () {
      const event = streamEvent({ eventCorpId: CORP_ID }, { timeStamp: String(Date.now()) });
      expect(await inbox().receive(event)).to.equal('SUCCESS');
      expect(await inbox().get(event.id)).to.deep.include({ status: 'failed', reason: 'leave event has no userId' });
      await inbox().retry(event.id);
      expect(await settledItem(world, event.id)).to.deep.include({
        status: 'failed',
        attempts: 1,
        reason: 'inbox.no_user: leave event has no userId',
      });
    });
  });

  describe('restarts and replicas', function () {
    it('a server stopped after the ack, before the slow work, leaves it to the next server on the same database', async function () {
      const person = newMember(world);
      const { account } = await signIn(person);
      const event = contactEvent('user_leave_org', [person.userid!], CORP_ID);
      await world.server.services.inbox.stop(); // the slow part has not started when the server goes
      expect(await push(event)).to.include({ accepted: true, reply: 'success' });
      expect(await statusOf(account.id)).to.equal('disabled');
      expect(await inbox().get(idOf(event))).to.deep.include({ status: 'pending', urgentDone: true, pendingLogouts: 1 });
      expect(endpoint.tokens).to.have.length(0);

      const next = await startTestServer({
        dingtalk: { ...world.server.config.dingtalk, eventToken: EVENT_TOKEN, eventAesKey: EVENT_AES_KEY },
      });
      try {
        const item = await waitFor(next, idOf(event));
        expect(item).to.deep.include({ status: 'done', attempts: 1 });
        expect(endpoint.tokens).to.have.length(1);
      } finally {
        await next.close();
      }
    });

    it('a server killed while it sends the logout token leaves the event to another replica, which sends it', async function () {
      this.timeout(120_000); // a server process of its own starts in seconds on a busy machine
      const person = newMember(world);
      const { account } = await signIn(person);
      const event = contactEvent('user_leave_org', [person.userid!], CORP_ID);
      await inbox().stop(); // only the doomed server's worker may take the event at first
      const doomed = await startServerProcess(world);
      try {
        endpoint.hold(); // the doomed server's delivery hangs at the app…
        expect(await push(event, `${doomed.url}/dingtalk/events`)).to.include({ accepted: true, reply: 'success' });
        expect(await statusOf(account.id), 'cut off before the answer').to.equal('disabled');
        await until(() => endpoint.held === 1, 'the doomed worker reached the app');
      } finally {
        doomed.kill(); // …and the server dies in the middle of it (SIGKILL: no drain)
      }
      await doomed.exited;
      // Its row lock went with its connection; this replica's worker takes the event.
      endpoint.release();
      endpoint.tokens.length = 0;
      inbox().startWorker();
      const item = await settledItem(world, idOf(event));
      expect(item).to.deep.include({ status: 'done', urgentDone: true, attempts: 1, pendingLogouts: 0 });
      expect(endpoint.tokens, 'the logout token, sent by the replica that survived').to.have.length(1);
    });

    it('two replicas working the same inbox never do one item twice', async function () {
      this.timeout(60_000);
      const count = 120;
      const now = new Date();
      const accountId = randomUUID();
      await models().InboxEvent.bulkCreate(
        Array.from({ length: count }, (_, i) => ({
          id: `replica-test-${i}`,
          transport: 'stream',
          type: 'user_leave_org',
          corpId: CORP_ID,
          userIds: [],
          occurredAt: null,
          payload: null,
          status: 'pending' as const,
          reason: null,
          urgentDoneAt: now,
          // One logout token each, told apart by its sid.
          logouts: [{ accountId, clientId: rp.clientId, sid: `sid-${i}` }],
          nextAttemptAt: now,
          finishedAt: null,
        })),
      );
      const second = await startTestServer({
        dingtalk: { ...world.server.config.dingtalk, eventToken: EVENT_TOKEN, eventAesKey: EVENT_AES_KEY },
      });
      try {
        second.services.inbox.wake();
        inbox().wake();
        for (let i = 0; i < count; i += 1) await waitFor(second, `replica-test-${i}`);
      } finally {
        await second.close();
      }
      const sids = endpoint.tokens.map((token) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).sid as string);
      expect(sids).to.have.length(count);
      expect(new Set(sids).size).to.equal(count);
      const items = await models().InboxEvent.findAll({ where: { status: 'done' } });
      expect(items.filter((i) => i.id.startsWith('replica-test-')).every((i) => i.attempts === 1)).to.equal(true);
      expect(await models().AuditEvent.count({ where: { accountId, type: 'logout.backchannel' } })).to.equal(count);
    });
  });

  function parseEvent(event: Record<string, unknown>) {
    const parsed = parseHttpPush(JSON.stringify(event));
    if (parsed.kind !== 'event') throw new Error('not an event');
    return parsed.event;
  }
});

/** `npm start`'s server as a process of its own on the test database, Redis and emulator (HTTP events). */
async function startServerProcess(world: DeprovisioningWorld): Promise<{ url: string; kill(): void; exited: Promise<unknown> }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [BIN, 'start'], {
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      DATABASE_URL: TEST_DATABASE_URL,
      REDIS_URL: TEST_REDIS_URL,
      PORT: String(port),
      ISSUER: url,
      DINGTALK_CLIENT_ID: 'dingtest-app',
      DINGTALK_CLIENT_SECRET: 'dingtest-secret-0123456789',
      DINGTALK_CORP_ID: CORP_ID,
      DINGTALK_LOGIN_BASE_URL: world.dingtalk.url,
      DINGTALK_API_BASE_URL: world.dingtalk.url,
      DINGTALK_OAPI_BASE_URL: world.dingtalk.url,
      DINGTALK_EVENT_TOKEN: EVENT_TOKEN,
      DINGTALK_EVENT_AES_KEY: EVENT_AES_KEY,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group: the kill reaches tsx's helper too
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const kill = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  try {
    await until(
      () =>
        fetch(`${url}/healthz`).then(
          (r) => r.ok,
          () => false,
        ),
      `the server process answered (${output.slice(-500)})`,
      90_000,
    );
  } catch (error) {
    kill();
    throw error;
  }
  return { url, kill, exited };
}

/** Waits for `condition`, bounded so that a broken server cannot hang the run (not a timing assertion). */
async function until(condition: () => boolean | Promise<boolean>, what: string, limitMs = 20_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`gave up waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Polls one server's view of an item until it is no longer pending (bounded, never a timing assertion). */
async function waitFor(server: TestServer, id: string, limitMs = 30_000) {
  const until = Date.now() + limitMs;
  for (;;) {
    const item = await server.services.inbox.get(id);
    if (item && item.status !== 'pending') return item;
    if (Date.now() > until) throw new Error(`inbox item ${id} still pending: ${JSON.stringify(item)}`);
    server.services.inbox.wake();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
