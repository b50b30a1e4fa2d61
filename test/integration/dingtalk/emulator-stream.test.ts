/**
 * The emulator's Stream mode checked against shared/dingtalk-api.md §10 with a bare WebSocket client
 * (the `ws` package, not our own Stream client): the registration path, fields and 401 `authFailed`
 * shape, single-use 90-second tickets, frame fields, SYSTEM ping and disconnect, directory changes
 * pushed as camelCase EVENTs to one connection, and redelivery with the same eventId until acked.
 */
import { expect } from 'chai';
import WebSocket from 'ws';
import { STREAM_OPEN_PATH } from '../../../src/emulator/index.js';
import { CLIENT_ID, CLIENT_SECRET, CORP_ID, PEOPLE, postJson, startEmulator, type Harness } from './harness.js';

type Json = Record<string, unknown>;

/** A bare Stream client: every frame it receives, in order. */
class Peer {
  readonly frames: Json[] = [];
  readonly #waiters: { match: (frame: Json) => boolean; resolve: (frame: Json) => void }[] = [];
  closed: Promise<number>;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const frame = JSON.parse(Buffer.isBuffer(data) ? data.toString('utf8') : expect.fail('a text frame arrives as one Buffer')) as Json;
      this.frames.push(frame);
      for (const waiter of [...this.#waiters]) {
        if (waiter.match(frame)) {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          waiter.resolve(frame);
        }
      }
    });
    this.closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
  }

  next(match: (frame: Json) => boolean): Promise<Json> {
    const seen = this.frames.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  reply(frame: Json, data: unknown, code = 200): void {
    const headers = frame.headers as Json;
    this.ws.send(
      JSON.stringify({
        code,
        headers: { contentType: 'application/json', messageId: headers.messageId },
        message: 'OK',
        data: JSON.stringify(data),
      }),
    );
  }
}

const topicIs = (type: string, topic?: string) => (frame: Json) =>
  frame.type === type && (topic === undefined || (frame.headers as Json).topic === topic);

describe('dingtalk emulator: Stream mode (dingtalk-api.md §10)', () => {
  let harness: Harness;
  const peers: Peer[] = [];

  beforeEach(async () => {
    harness = await startEmulator({ stream: { ackTimeoutMs: 100, pingIntervalMs: 0, disconnectGraceMs: 100 } });
  });

  afterEach(async () => {
    for (const peer of peers.splice(0)) peer.ws.terminate();
    await harness.server.close();
  });

  function register(body: Json = {}) {
    return postJson(`${harness.url}${STREAM_OPEN_PATH}`, {
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      subscriptions: [{ type: 'EVENT', topic: '*' }],
      ua: 'conformance-test/1.0',
      ...body,
    });
  }

  async function connect(): Promise<Peer> {
    const registered = await register();
    const { endpoint, ticket } = registered.json as { endpoint: string; ticket: string };
    const ws = new WebSocket(`${endpoint}?ticket=${ticket}`);
    const peer = new Peer(ws);
    peers.push(peer);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return peer;
  }

  /** The handshake's HTTP status for this URL (101 when it upgrades). */
  function handshakeStatus(url: string): Promise<number> {
    return new Promise((resolve) => {
      const ws = new WebSocket(url);
      ws.on('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
        ws.terminate();
      });
      ws.on('open', () => {
        resolve(101);
        ws.terminate();
      });
      ws.on('error', () => undefined);
    });
  }

  describe('POST /v1.0/gateway/connections/open (§10.1)', () => {
    it('answers 200 with a ws endpoint ending in /connect and a UUID ticket', async () => {
      const result = await register();
      expect(result.status, result.text).to.equal(200);
      const body = result.json as Json;
      expect(Object.keys(body).sort()).to.deep.equal(['endpoint', 'ticket']);
      expect(body.endpoint).to.match(/^ws:\/\/127\.0\.0\.1:\d+\/connect$/);
      expect(body.ticket).to.match(/^[0-9a-f-]{36}$/);
    });

    it('answers wrong credentials with 401 authFailed in the api.dingtalk.com error shape', async () => {
      const result = await register({ clientSecret: 'wrong' });
      expect(result.status).to.equal(401);
      const body = result.json as Json;
      expect(body).to.include({ code: 'authFailed', message: '鉴权失败' });
      expect(body.requestid).to.be.a('string');
      expect(body).not.to.have.property('errcode');
    });

    it('answers a body that is not JSON with 400 Missingbody', async () => {
      const result = await postJson(`${harness.url}${STREAM_OPEN_PATH}`, 'not json');
      expect(result.status).to.equal(400);
      expect(result.json).to.include({ code: 'Missingbody' });
    });
  });

  describe('the WebSocket handshake (§10.2)', () => {
    it('opens one connection per ticket: a second use is refused', async () => {
      const { endpoint, ticket } = (await register()).json as { endpoint: string; ticket: string };
      expect(await handshakeStatus(`${endpoint}?ticket=${ticket}`)).to.equal(101);
      expect(await handshakeStatus(`${endpoint}?ticket=${ticket}`)).to.be.at.least(400);
    });

    it('refuses a ticket older than 90 seconds and an unknown one', async () => {
      const { endpoint, ticket } = (await register()).json as { endpoint: string; ticket: string };
      harness.emulator.state.advanceTime(90_001);
      expect(await handshakeStatus(`${endpoint}?ticket=${ticket}`)).to.be.at.least(400);
      expect(await handshakeStatus(`${endpoint}?ticket=00000000-0000-0000-0000-000000000000`)).to.be.at.least(400);
      expect(await handshakeStatus(endpoint)).to.be.at.least(400);
    });
  });

  describe('frames (§10.3–§10.5)', () => {
    it('sends SYSTEM ping with data {opaque} and checks the echo', async () => {
      const peer = await connect();
      const [messageId] = harness.emulator.stream.ping();
      const ping = await peer.next(topicIs('SYSTEM', 'ping'));
      expect(ping).to.include({ specVersion: '1.0', type: 'SYSTEM' });
      expect(ping.headers).to.include({ messageId, topic: 'ping', contentType: 'application/json' });
      expect((ping.headers as Json).time).to.be.a('string');
      expect(ping.data).to.be.a('string');
      const opaque = (JSON.parse(ping.data as string) as Json).opaque;
      expect(opaque).to.be.a('string');

      peer.reply(ping, { opaque });
      const reply = await harness.emulator.stream.waitForReply((r) => r.messageId === messageId);
      expect(reply).to.include({ answers: 'ping', code: 200 });
      expect(reply.problem).to.equal(undefined);
    });

    it('flags a ping reply that does not echo opaque', async () => {
      const peer = await connect();
      const [messageId] = harness.emulator.stream.ping();
      peer.reply(await peer.next(topicIs('SYSTEM', 'ping')), { opaque: 'something else' });
      const reply = await harness.emulator.stream.waitForReply((r) => r.messageId === messageId);
      expect(reply.problem).to.equal('ping reply does not echo opaque');
    });

    it('announces disconnect with a reason, then closes the socket', async () => {
      const peer = await connect();
      harness.emulator.stream.disconnect();
      const frame = await peer.next(topicIs('SYSTEM', 'disconnect'));
      expect(JSON.parse(frame.data as string))
        .to.have.property('reason')
        .that.is.a('string');
      expect(await peer.closed).to.equal(1000);
      while (harness.emulator.stream.connections().length > 0) await new Promise((resolve) => setTimeout(resolve, 5));
    });

    it('pushes a leaver as an EVENT with camelCase data and the corp in eventCorpId', async () => {
      const peer = await connect();
      harness.emulator.state.markLeft(PEOPLE.platform.userid);
      const event = await peer.next(topicIs('EVENT'));
      const headers = event.headers as Json;
      expect(event.specVersion).to.equal('1.0');
      expect(headers).to.include({ topic: '*', contentType: 'application/json', eventType: 'user_leave_org', eventCorpId: CORP_ID });
      for (const name of ['messageId', 'eventId', 'eventBornTime', 'time', 'eventUnifiedAppId'])
        expect(headers[name], name).to.be.a('string');
      expect(event.data).to.be.a('string');
      const data = JSON.parse(event.data as string) as Json;
      expect(data).to.have.keys(['timeStamp', 'userId']);
      expect(data.userId).to.deep.equal([PEOPLE.platform.userid]);
      expect(data.timeStamp).to.be.a('string');
    });

    it('gives each event to one connection only', async () => {
      const first = await connect();
      const second = await connect();
      const { eventId } = harness.emulator.stream.publish({ type: 'user_modify_org', userIds: [PEOPLE.admin.userid] });
      const isIt = (frame: Json) => frame.type === 'EVENT' && (frame.headers as Json).eventId === eventId;
      const winner = await Promise.race([first.next(isIt).then(() => first), second.next(isIt).then(() => second)]);
      winner.reply(winner.frames.find(isIt)!, { status: 'SUCCESS' });
      await harness.emulator.stream.waitForReply((r) => r.eventId === eventId);
      expect(first.frames.filter(isIt).length + second.frames.filter(isIt).length).to.equal(1);
    });

    it('pushes an unacked event again with the same eventId, and stops once it is acked SUCCESS', async () => {
      const peer = await connect();
      const { eventId } = harness.emulator.stream.publish({ type: 'user_leave_org', userIds: [PEOPLE.left.userid] });
      const isIt = (frame: Json) => frame.type === 'EVENT' && (frame.headers as Json).eventId === eventId;
      const first = await peer.next(isIt);
      peer.reply(first, { status: 'LATER' });
      const again = await peer.next((frame) => isIt(frame) && frame !== first);
      expect((again.headers as Json).eventId).to.equal(eventId);
      peer.reply(again, { status: 'SUCCESS' });
      const ack = await harness.emulator.stream.waitForReply((r) => r.eventId === eventId && r.status === 'SUCCESS');
      expect(ack).to.include({ answers: 'event', code: 200 });
      expect(harness.emulator.stream.acked.get(eventId)).to.be.at.least(2);
      expect(harness.emulator.stream.pendingEvents()).to.deep.equal([]);
    });

    it('does not count a reply whose data is an object (not a JSON string) as an ack', async () => {
      const peer = await connect();
      const { eventId } = harness.emulator.stream.publish({ type: 'user_leave_org', userIds: ['x'] });
      const frame = await peer.next(topicIs('EVENT'));
      peer.ws.send(
        JSON.stringify({
          code: 200,
          headers: { messageId: (frame.headers as Json).messageId },
          message: 'OK',
          data: { status: 'SUCCESS' },
        }),
      );
      const reply = await harness.emulator.stream.waitForReply((r) => r.eventId === eventId);
      expect(reply.problem).to.equal('data is not a JSON string');
      expect(harness.emulator.stream.pendingEvents().map((e) => e.eventId)).to.include(eventId);
    });

    it('keeps a change made while nobody is connected for the next connection', async () => {
      harness.emulator.state.markLeft(PEOPLE.frontend.userid);
      const peer = await connect();
      const event = await peer.next(topicIs('EVENT'));
      expect(JSON.parse(event.data as string)).to.deep.include({ userId: [PEOPLE.frontend.userid] });
    });

    it('breaks connections on drop(), without a close frame', async () => {
      const peer = await connect();
      harness.emulator.stream.drop();
      expect(await peer.closed).to.equal(1006);
    });
  });
});
