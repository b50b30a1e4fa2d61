/**
 * Our Stream client (src/dingtalk/stream-client.ts) against the emulator's Stream gateway, with a
 * sink function standing in for the event inbox: registration, pings, acks from the sink's answer,
 * reconnecting after a drop, a `disconnect` or refused credentials, and a clean stop. Backoff and
 * redelivery are tiny through options; nothing asserts on elapsed time.
 */
import { expect } from 'chai';
import { isUnreadable, type DirectoryEvent, type EventAck, type UnreadableEvent } from '../../../src/dingtalk/directory-event.js';
import { createStreamClient, type StreamClient, type StreamClientOptions } from '../../../src/dingtalk/stream-client.js';
import type { StreamStatus } from '../../../src/dingtalk/stream-status.js';
import { STREAM_OPEN_PATH } from '../../../src/emulator/index.js';
import { createLogger } from '../../../src/log.js';
import { CLIENT_ID, CLIENT_SECRET, CORP_ID, PEOPLE, startEmulator, type Harness } from './harness.js';

/** Waits until `condition` holds (the test's own timeout bounds it). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe('dingtalk Stream client against the emulator', () => {
  let harness: Harness;
  let client: StreamClient | undefined;
  let received: (DirectoryEvent | UnreadableEvent)[];
  let answer: (event: DirectoryEvent | UnreadableEvent) => Promise<EventAck>;
  let statuses: StreamStatus[];

  beforeEach(async () => {
    harness = await startEmulator({ stream: { ackTimeoutMs: 50, pingIntervalMs: 0, disconnectGraceMs: 2000 } });
    received = [];
    statuses = [];
    answer = async () => 'SUCCESS';
  });

  afterEach(async () => {
    await client?.stop();
    client = undefined;
    await harness.server.close();
  });

  function start(overrides: Partial<StreamClientOptions> = {}): StreamClient {
    client = createStreamClient({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      apiBaseUrl: harness.url,
      timeoutMs: 1000,
      reconnectBaseMs: 5,
      reconnectMaxMs: 20,
      logger: createLogger({ logLevel: 'silent' }),
      sink: async (event) => {
        received.push(event);
        return answer(event);
      },
      onStatus: (status) => statuses.push(status),
      ...overrides,
    });
    client.start();
    return client;
  }

  async function connected(): Promise<void> {
    await until(() => client!.status().state === 'connected' && harness.emulator.stream.connections().length > 0);
  }

  it('registers with the app credentials and subscription EVENT *, then connects', async () => {
    start({ ua: 'dingtalk-oidc-test' });
    await connected();
    expect(harness.emulator.state.countCalls(STREAM_OPEN_PATH, 'POST')).to.equal(1);
    const [connection] = harness.emulator.stream.connections();
    expect(connection!.subscriptions).to.deep.equal([{ type: 'EVENT', topic: '*' }]);
    expect(connection!.ua).to.equal('dingtalk-oidc-test');
    expect(client!.status()).to.deep.include({ failures: 0 });
    expect(client!.status().counts.connections).to.equal(1);
  });

  it('answers SYSTEM ping with its opaque', async () => {
    start();
    await connected();
    const [messageId] = harness.emulator.stream.ping();
    const reply = await harness.emulator.stream.waitForReply((r) => r.messageId === messageId);
    expect(reply).to.include({ answers: 'ping', code: 200 });
    expect(reply.problem).to.equal(undefined);
  });

  it('hands a leaver to the sink as a DirectoryEvent and acks SUCCESS after the sink answered', async () => {
    let sinkDone = false;
    answer = async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      sinkDone = true;
      return 'SUCCESS';
    };
    start();
    await connected();
    let doneAtAck: boolean | undefined;
    harness.emulator.stream.onReply((reply) => {
      if (reply.answers === 'event') doneAtAck ??= sinkDone;
    });
    harness.emulator.state.markLeft(PEOPLE.platform.userid);
    const ack = await harness.emulator.stream.waitForReply((r) => r.answers === 'event');
    expect(ack).to.include({ status: 'SUCCESS', code: 200 });
    expect(ack.problem).to.equal(undefined);
    expect(doneAtAck, 'the sink had finished when the ack arrived').to.equal(true);
    expect(received).to.have.length(1);
    expect(received[0]).to.deep.include({
      id: ack.eventId,
      transport: 'stream',
      type: 'user_leave_org',
      corpId: CORP_ID,
      userIds: [PEOPLE.platform.userid],
    });
    expect(client!.status().counts).to.include({ success: 1, later: 0 });
  });

  it('answers LATER when the sink fails, and handles the redelivery with the same event id', async () => {
    let calls = 0;
    answer = async () => {
      calls += 1;
      if (calls === 1) throw new Error('database unavailable');
      return 'SUCCESS';
    };
    start();
    await connected();
    const { eventId } = harness.emulator.stream.publish({ type: 'user_leave_org', userIds: [PEOPLE.left.userid] });
    await harness.emulator.stream.waitForReply((r) => r.eventId === eventId && r.status === 'LATER');
    await harness.emulator.stream.waitForReply((r) => r.eventId === eventId && r.status === 'SUCCESS');
    expect(received.map((event) => event.id)).to.deep.equal([eventId, eventId]);
    expect(client!.status().counts).to.include({ success: 1, later: 1 });
  });

  it('acks an event it cannot read SUCCESS, after handing it to the sink as unreadable', async () => {
    start();
    await connected();
    const { eventId } = harness.emulator.stream.publish({ type: 'user_leave_org', data: '{"userId": oops' });
    const ack = await harness.emulator.stream.waitForReply((r) => r.eventId === eventId);
    expect(ack.status).to.equal('SUCCESS');
    expect(received).to.have.length(1);
    expect(isUnreadable(received[0]!)).to.equal(true);
    expect(received[0]).to.include({ id: eventId, reason: 'event data is not JSON' });
    expect(client!.status().counts).to.include({ success: 1, unreadable: 1 });
  });

  it('answers a CALLBACK push it did not subscribe to with 404', async () => {
    start();
    await connected();
    harness.emulator.stream.pushRaw({
      specVersion: '1.0',
      type: 'CALLBACK',
      headers: { messageId: 'cb-1', topic: '/v1.0/im/bot/messages/get' },
      data: '{}',
    });
    const reply = await harness.emulator.stream.waitForReply((r) => r.messageId === 'cb-1');
    expect(reply.code).to.equal(404);
    expect(received).to.have.length(0);
  });

  it('reconnects with a new ticket after the connection drops, and handles the next event', async () => {
    start();
    await connected();
    const [first] = harness.emulator.stream.connections();
    harness.emulator.stream.drop();
    await until(() => harness.emulator.stream.connections().some((c) => c.id !== first!.id) && client!.status().state === 'connected');
    expect(harness.emulator.stream.ticketsIssued).to.equal(2);
    expect(statuses.some((s) => s.state === 'waiting' && s.lastError?.code === 'stream.closed')).to.equal(true);
    const { eventId } = harness.emulator.stream.publish({ type: 'user_leave_org', userIds: [PEOPLE.left.userid] });
    expect((await harness.emulator.stream.waitForReply((r) => r.eventId === eventId)).status).to.equal('SUCCESS');
  });

  it('honours disconnect: a new ticket and connection, then closes the old one itself', async () => {
    start();
    await connected();
    const [first] = harness.emulator.stream.connections();
    harness.emulator.stream.disconnect(first!.id);
    // The grace is 2 s: the old connection is gone sooner only because the client closed it.
    await until(() => {
      const live = harness.emulator.stream.connections();
      return live.length === 1 && live[0]!.id !== first!.id && client!.status().state === 'connected';
    });
    expect(harness.emulator.stream.ticketsIssued).to.equal(2);
    expect(client!.status().failures).to.equal(0);
    const { eventId } = harness.emulator.stream.publish({ type: 'user_modify_org', userIds: [PEOPLE.admin.userid] });
    expect((await harness.emulator.stream.waitForReply((r) => r.eventId === eventId)).status).to.equal('SUCCESS');
  });

  it('keeps retrying with backoff on wrong credentials, reporting the state, without throwing', async () => {
    start({ clientSecret: 'wrong-secret' });
    await until(() => client!.status().failures >= 3);
    const status = client!.status();
    expect(status.state).to.be.oneOf(['waiting', 'connecting']);
    expect(status.lastError?.code).to.equal('dingtalk.invalid_client');
    expect(status.counts.connections).to.equal(0);
    expect(harness.emulator.state.countCalls(STREAM_OPEN_PATH, 'POST')).to.be.at.least(3);
    const waits = statuses.filter((s) => s.state === 'waiting');
    expect(waits.map((s) => s.failures).slice(0, 3)).to.deep.equal([1, 2, 3]);
    for (const wait of waits) expect(wait.nextAttemptAt).to.be.a('number');
  });

  it('reports a refused WebSocket handshake with its status, and connects with a new ticket', async () => {
    harness.emulator.stream.refuseNextHandshakes(1);
    start();
    await connected();
    const refused = statuses.find((s) => s.state === 'waiting');
    expect(refused?.lastError).to.deep.include({ code: 'stream.handshake_failed', status: 401 });
    expect(harness.emulator.stream.ticketsIssued).to.equal(2);
  });

  it('retries a failed registration and recovers when the gateway answers again', async () => {
    harness.emulator.state.failNext(STREAM_OPEN_PATH, 'server-error', 2);
    start();
    await connected();
    expect(statuses.filter((s) => s.state === 'waiting').map((s) => s.lastError?.code)).to.deep.equal([
      'dingtalk.unavailable',
      'dingtalk.unavailable',
    ]);
    // The count is reset once the connection proves itself with a frame, not at the handshake.
    harness.emulator.stream.ping();
    await until(() => client!.status().failures === 0);
  });

  it('keeps backing off when the gateway accepts connections and drops them at once', async () => {
    start();
    await connected();
    for (let drop = 1; drop <= 2; drop += 1) {
      const live = harness.emulator.stream.connections();
      harness.emulator.stream.drop();
      await until(() => statuses.some((s) => s.state === 'waiting' && s.failures === drop));
      await until(
        () => client!.status().state === 'connected' && harness.emulator.stream.connections().some((c) => !live.some((l) => l.id === c.id)),
      );
    }
    expect(statuses.filter((s) => s.state === 'waiting').map((s) => s.failures)).to.deep.equal([1, 2]);
    harness.emulator.stream.ping();
    await until(() => client!.status().failures === 0);
  });

  it('opens one new connection however often the old one announces disconnect', async () => {
    start();
    await connected();
    const [first] = harness.emulator.stream.connections();
    harness.emulator.stream.disconnect(first!.id);
    harness.emulator.stream.disconnect(first!.id);
    await until(() => {
      const live = harness.emulator.stream.connections();
      return live.length === 1 && live[0]!.id !== first!.id && client!.status().state === 'connected';
    });
    expect(harness.emulator.stream.ticketsIssued).to.equal(2);
  });

  it('replaces a connection that stops answering pings', async () => {
    start({ idleMs: 20, pongTimeoutMs: 20 });
    await connected();
    const [first] = harness.emulator.stream.connections();
    // Frozen peer: the emulator's socket stops reading, so no pong and no frame comes back.
    harness.emulator.stream.freeze(first!.id);
    await until(() => statuses.some((s) => s.lastError?.code === 'stream.idle_timeout'));
    await until(() => harness.emulator.stream.connections().some((c) => c.id !== first!.id) && client!.status().state === 'connected');
  });

  it('stops cleanly: the connection is closed and nothing reconnects', async () => {
    start();
    await connected();
    await client!.stop();
    expect(client!.status().state).to.equal('stopped');
    await until(() => harness.emulator.stream.connections().length === 0);
    expect(harness.emulator.stream.ticketsIssued).to.equal(1);
  });
});
