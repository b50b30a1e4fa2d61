/**
 * DingTalk Stream mode end to end (DINGTALK_EVENT_MODE=stream): the whole product on real
 * PostgreSQL and Redis holds a Stream connection to the emulator, whose directory changes arrive as
 * EVENT pushes and go to the event inbox. The emulator records each ack as it arrives, so "before
 * the ack" is observed from DingTalk's side. Backoff is tiny through config; nothing is timed.
 */
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { LEFT_ORG_REASON } from '../../../src/accounts/deprovisioning.js';
import type { EmulatorUser, StreamReplyRecord } from '../../../src/emulator/index.js';
import { Browser } from '../../helpers/browser.js';
import { resetState, startTestServer } from '../../helpers/bootstrap.js';
import {
  exchangeCode,
  loginViaDingTalk,
  registerRelyingParty,
  startLoginWorld,
  type LoginWorld,
  type RelyingParty,
} from '../../helpers/login-flow.js';
import { consoleLogin } from '../admin/harness.js';
import { introspectAs, newMember, settledItem } from './harness.js';

const FAST_STREAM = { reconnectBaseMs: 5, reconnectMaxMs: 50, idleMs: 60_000, pongTimeoutMs: 10_000 };

/** Waits until `condition` holds (the test's own timeout bounds it). */
async function until(condition: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((resolve) => setTimeout(resolve, 10));
}

describe('DingTalk Stream mode (emulator over Stream, real Postgres and Redis)', function () {
  let world: LoginWorld;
  let rp: RelyingParty;

  before(async function () {
    await resetState();
    world = await startLoginWorld({ adminDingtalkUserids: ['manager7421'], dingtalk: { eventMode: 'stream', stream: FAST_STREAM } });
    rp = await registerRelyingParty(world, { name: 'Wiki' });
    await connected();
  });

  after(async function () {
    await world?.close();
  });

  const stream = () => world.emulator.stream;
  const client = () => world.server.services.eventStream!.client;

  async function connected(): Promise<void> {
    await until(() => client().status().state === 'connected' && stream().connections().length === 1);
  }

  async function signIn(person: EmulatorUser) {
    const { callback, request } = await loginViaDingTalk(world, new Browser(), rp, person.unionid, {
      scope: 'openid offline_access',
      prompt: 'consent',
    });
    const tokens = await exchangeCode(rp, callback, request);
    const account = await world.server.services.db.models.Account.findOne({ where: { unionId: person.unionid } });
    return { tokens, accountId: account!.id };
  }

  const introspect = (token: string) => introspectAs(world, rp, token);

  async function accountStatus(accountId: string) {
    const account = await world.server.services.db.models.Account.findByPk(accountId);
    return { status: account?.status, statusReason: account?.statusReason };
  }

  /** Marks the person as left in the emulator; returns the leave event's id and its ack. */
  function leave(person: EmulatorUser): { eventId: string; ack: Promise<StreamReplyRecord> } {
    world.emulator.state.markLeft(person.userid!);
    const pushed = stream()
      .pendingEvents()
      .find((event) => event.type === 'user_leave_org');
    expect(pushed, 'the leave was pushed').to.not.equal(undefined);
    return { eventId: pushed!.eventId, ack: stream().waitForReply((reply) => reply.eventId === pushed!.eventId, 15_000) };
  }

  describe('a leaver pushed over Stream', function () {
    let session: Awaited<ReturnType<typeof signIn>>;
    let ack: StreamReplyRecord;
    let atAck: { status: unknown; introspection: Record<string, unknown> };

    before(async function () {
      const person = newMember(world);
      session = await signIn(person);
      expect(await introspect(session.tokens.access_token)).to.include({ active: true });
      // Read the account the moment DingTalk's side receives the ack, before anything else runs.
      let captured: Promise<typeof atAck> | undefined;
      const stop = stream().onReply((reply) => {
        if (reply.status !== 'SUCCESS' || captured) return;
        captured = (async () => ({
          status: await accountStatus(session.accountId),
          introspection: await introspect(session.tokens.access_token),
        }))();
      });
      const left = leave(person);
      ack = await left.ack;
      stop();
      atAck = await captured!;
      await settledItem(world, left.eventId);
    });

    it('is acked SUCCESS in a §10.4 reply frame', function () {
      expect(ack).to.include({ answers: 'event', code: 200, status: 'SUCCESS' });
      expect(ack.problem).to.equal(undefined);
    });

    it('is cut off before the ack: account disabled, live access token inactive', function () {
      expect(atAck.status).to.deep.equal({ status: 'disabled', statusReason: LEFT_ORG_REASON });
      expect(atAck.introspection).to.deep.equal({ active: false });
    });

    it('cannot refresh afterwards', async function () {
      try {
        await oidc.refreshTokenGrant(rp.config, session.tokens.refresh_token!);
      } catch (error) {
        expect((error as { error?: string }).error).to.equal('invalid_grant');
        return;
      }
      expect.fail('the refresh token still works');
    });

    it('is recorded in the inbox under its Stream eventId', async function () {
      const item = await world.server.services.inbox.get(ack.eventId!);
      expect(item).to.deep.include({ transport: 'stream', type: 'user_leave_org', status: 'done', urgentDone: true });
    });
  });

  it('reconnects by itself after the connection drops, and handles the next event', async function () {
    const person = newMember(world);
    const { accountId } = await signIn(person);
    const tickets = stream().ticketsIssued;
    const [before] = stream().connections();
    stream().drop();
    await until(
      () =>
        stream()
          .connections()
          .some((c) => c.id !== before!.id) && client().status().state === 'connected',
    );
    expect(stream().ticketsIssued).to.equal(tickets + 1);
    const { ack } = leave(person);
    expect((await ack).status).to.equal('SUCCESS');
    expect(await accountStatus(accountId)).to.deep.equal({ status: 'disabled', statusReason: LEFT_ORG_REASON });
  });

  it('honours disconnect: a new ticket and connection, the old one closed, the next event handled', async function () {
    const person = newMember(world);
    const { accountId } = await signIn(person);
    const tickets = stream().ticketsIssued;
    const [before] = stream().connections();
    stream().disconnect(before!.id);
    await until(() => {
      const live = stream().connections();
      return live.length === 1 && live[0]!.id !== before!.id && client().status().state === 'connected';
    });
    expect(stream().ticketsIssued).to.equal(tickets + 1);
    const { ack } = leave(person);
    expect((await ack).status).to.equal('SUCCESS');
    expect(await accountStatus(accountId)).to.deep.equal({ status: 'disabled', statusReason: LEFT_ORG_REASON });
  });

  it('acks a malformed event SUCCESS and lists it in the inbox as failed, with the reason', async function () {
    const { eventId } = stream().publish({ type: 'user_leave_org', data: '{"userId": [oops' });
    const reply = await stream().waitForReply((r) => r.eventId === eventId, 15_000);
    expect(reply.status).to.equal('SUCCESS');
    const item = await world.server.services.inbox.get(eventId);
    expect(item).to.deep.include({ transport: 'stream', status: 'failed' });
    expect(item!.reason).to.contain('event data is not JSON');
    const failed = await world.server.services.inbox.list({ status: 'failed' });
    expect(failed.items.map((i) => i.id)).to.include(eventId);
  });

  it('shows the connection on /metrics and the console DingTalk page, each process by name', async function () {
    const metrics = await (await fetch(`${world.server.issuer}/metrics`)).text();
    expect(metrics).to.match(/^dingtalk_stream_connected 1$/m);
    expect(metrics).to.match(/^dingtalk_stream_connections_total [3-9]/m);
    expect(metrics).to.match(/^dingtalk_stream_events_total\{outcome="unreadable"\} 1$/m);
    await until(async () => (await world.server.services.streamBoard.list()).some((entry) => entry.status.state === 'connected'));
    const [entry] = await world.server.services.streamBoard.list();
    const admin = (await consoleLogin(world, 'Ub9c2Kp7vQ0m3sTtLw5dHAiEiE')).browser;
    const page = await admin.request(`${world.server.issuer}/admin/dingtalk`);
    expect(page.status).to.equal(200);
    expect(page.text).to.contain('id="stream-connections"');
    expect(page.text).to.contain(entry!.instance);
    expect(page.text).to.contain('DINGTALK_EVENT_MODE');
  });
});

describe('DingTalk Stream mode with wrong app credentials', function () {
  let world: LoginWorld;

  before(async function () {
    await resetState();
    world = await startLoginWorld({ dingtalk: { eventMode: 'stream', clientSecret: 'not-the-secret', stream: FAST_STREAM } });
  });

  after(async function () {
    await world?.close();
  });

  it('keeps retrying with backoff and reports the state; the server stays up and ready', async function () {
    const client = world.server.services.eventStream!.client;
    await until(() => client.status().failures >= 3);
    expect(client.status().lastError?.code).to.equal('dingtalk.invalid_client');
    expect(client.status().counts.connections).to.equal(0);
    expect(world.emulator.stream.ticketsIssued).to.equal(0);

    const ready = await fetch(`${world.server.issuer}/readyz`);
    expect(ready.status, '/readyz does not depend on the Stream connection').to.equal(200);
    const metrics = await (await fetch(`${world.server.issuer}/metrics`)).text();
    expect(metrics).to.match(/^dingtalk_stream_connected 0$/m);
    expect(metrics).to.match(/^dingtalk_stream_failures_total\{code="dingtalk.invalid_client"\} [3-9]/m);
    await until(async () =>
      (await world.server.services.streamBoard.list()).some((entry) => entry.status.lastError?.code === 'dingtalk.invalid_client'),
    );
  });
});

describe('DingTalk Stream mode on the built-in emulator (development without DingTalk credentials)', function () {
  it('connects to the emulator served by the same server, through its WebSocket upgrade', async function () {
    await resetState();
    const server = await startTestServer({ dingtalk: { eventMode: 'stream', stream: FAST_STREAM } });
    try {
      const { emulator, eventStream } = server.services;
      await until(() => eventStream!.client.status().state === 'connected');
      const [connection] = emulator!.stream.connections();
      expect(connection!.subscriptions).to.deep.equal([{ type: 'EVENT', topic: '*' }]);
      const { eventId } = emulator!.stream.publish({ type: 'user_modify_org', userIds: ['nobody-known'] });
      expect((await emulator!.stream.waitForReply((r) => r.eventId === eventId, 15_000)).status).to.equal('SUCCESS');
    } finally {
      await server.close();
    }
  });
});
