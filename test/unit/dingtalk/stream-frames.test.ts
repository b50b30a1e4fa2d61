import { expect } from 'chai';
import { isUnreadable, type DirectoryEvent, type UnreadableEvent } from '../../../src/dingtalk/directory-event.js';
import { eventAck, parseStreamFrame, pingReply, unsupportedReply } from '../../../src/dingtalk/stream-frames.js';

/** An EVENT push as dingtalk-api.md §10.3 describes it (header values are strings, data a JSON string). */
function eventFrame(
  headers: Record<string, unknown> = {},
  data: unknown = { timeStamp: '1731400000000', userId: ['manager4220'] },
): string {
  return JSON.stringify({
    specVersion: '1.0',
    type: 'EVENT',
    headers: {
      appId: 'app-1',
      connectionId: 'conn-1',
      contentType: 'application/json',
      messageId: 'msg-1',
      time: '1731400000123',
      topic: '*',
      eventType: 'user_leave_org',
      eventId: 'evt-1',
      eventCorpId: 'ding5f8a2c4e71b3d902',
      eventBornTime: '1731400000000',
      eventUnifiedAppId: 'unified-1',
      ...headers,
    },
    data: typeof data === 'string' ? data : JSON.stringify(data),
  });
}

function readEvent(text: string): DirectoryEvent | UnreadableEvent {
  const push = parseStreamFrame(text);
  if (push.kind !== 'event') throw new Error(`expected an event, got ${push.kind}`);
  return push.event;
}

describe('dingtalk/stream-frames', () => {
  describe('EVENT pushes', () => {
    it('reads a leave event: eventId as the id, eventCorpId as the organisation, camelCase userId', () => {
      const event = readEvent(eventFrame());
      expect(isUnreadable(event)).to.equal(false);
      expect(event).to.deep.include({
        id: 'evt-1',
        transport: 'stream',
        type: 'user_leave_org',
        corpId: 'ding5f8a2c4e71b3d902',
        userIds: ['manager4220'],
        departmentIds: [],
        occurredAt: 1731400000000,
      });
      expect((event as DirectoryEvent).raw).to.deep.include({ data: { timeStamp: '1731400000000', userId: ['manager4220'] } });
    });

    it('reads department ids, given as numbers or numeric strings', () => {
      const event = readEvent(eventFrame({ eventType: 'org_dept_modify' }, { timeStamp: '1', deptId: [101, '102'] })) as DirectoryEvent;
      expect(event.departmentIds).to.deep.equal([101, 102]);
      expect(event.userIds).to.deep.equal([]);
    });

    it('reads people from userIds or the HTTP shape UserId too (the leave data is unverified, §10.8), userId first', () => {
      expect((readEvent(eventFrame({}, { TimeStamp: '1', UserId: ['x'] })) as DirectoryEvent).userIds).to.deep.equal(['x']);
      expect((readEvent(eventFrame({}, { userIds: 'y' })) as DirectoryEvent).userIds).to.deep.equal(['y']);
      expect((readEvent(eventFrame({}, { userId: ['a'], UserId: ['b'] })) as DirectoryEvent).userIds).to.deep.equal(['a']);
    });

    it('does not let a malformed deptId or timeStamp sink a leave whose userId is fine', () => {
      const event = readEvent(eventFrame({ eventBornTime: undefined }, { userId: ['u1'], deptId: ['sales'], timeStamp: { at: 1 } }));
      expect(isUnreadable(event)).to.equal(false);
      expect(event).to.deep.include({ userIds: ['u1'], departmentIds: [] });
      expect((event as DirectoryEvent).occurredAt).to.equal(undefined);
    });

    it('takes the organisation from data corpId/CorpId when the eventCorpId header is missing, and leaves it unset when none is given', () => {
      expect(readEvent(eventFrame({ eventCorpId: undefined }, { corpId: 'dingA', userId: ['u'] }))).to.include({ corpId: 'dingA' });
      expect(readEvent(eventFrame({ eventCorpId: undefined }, { CorpId: 'dingB', userId: ['u'] }))).to.include({ corpId: 'dingB' });
      expect(readEvent(eventFrame({ eventCorpId: undefined }))).to.not.have.property('corpId');
    });

    it('keeps an event of a type it does not know, for the inbox to judge', () => {
      const event = readEvent(eventFrame({ eventType: 'chat_update_title' }, { chatId: 'c1' })) as DirectoryEvent;
      expect(event).to.include({ type: 'chat_update_title', id: 'evt-1' });
    });

    it('takes the time from data.timeStamp when eventBornTime is missing', () => {
      const event = readEvent(eventFrame({ eventBornTime: undefined }, { timeStamp: '1731400000999', userId: [] })) as DirectoryEvent;
      expect(event.occurredAt).to.equal(1731400000999);
    });

    const unreadable: [string, string, string][] = [
      ['data that is not JSON', eventFrame({}, '{not json'), 'event data is not JSON'],
      ['data that is a JSON array', eventFrame({}, [1, 2]), 'event data is not a JSON object'],
      ['userId of the wrong shape', eventFrame({}, { userId: [{ id: 1 }] }), 'event data field userId has the wrong shape'],
      [
        'deptId as words in a department event',
        eventFrame({ eventType: 'org_dept_modify' }, { deptId: ['sales'] }),
        'event data field deptId has the wrong shape',
      ],
      ['data that is JSON null', eventFrame({}, 'null'), 'event data is not a JSON object'],
      ['no eventType', eventFrame({ eventType: undefined }), 'event has no eventType'],
    ];
    for (const [what, frame, reason] of unreadable) {
      it(`turns ${what} into an unreadable event with the reason`, () => {
        const event = readEvent(frame);
        expect(isUnreadable(event)).to.equal(true);
        expect(event).to.include({ id: 'evt-1', transport: 'stream', reason });
      });
    }

    it('names an event without eventId by its messageId', () => {
      expect(readEvent(eventFrame({ eventId: undefined })).id).to.equal('msg-1');
    });
  });

  describe('SYSTEM pushes', () => {
    it('reads ping with its data to echo', () => {
      const data = JSON.stringify({ opaque: 'op-1' });
      const push = parseStreamFrame(
        JSON.stringify({
          specVersion: '1.0',
          type: 'SYSTEM',
          headers: { messageId: 'm1', topic: 'ping', contentType: 'application/json', time: '1' },
          data,
        }),
      );
      expect(push).to.deep.equal({ kind: 'ping', messageId: 'm1', data });
    });

    it('reads disconnect with its reason', () => {
      const push = parseStreamFrame(
        JSON.stringify({ type: 'SYSTEM', headers: { messageId: 'm2', topic: 'disconnect' }, data: '{"reason":"connection is expired"}' }),
      );
      expect(push).to.deep.equal({ kind: 'disconnect', messageId: 'm2', reason: 'connection is expired' });
    });

    it('passes other SYSTEM topics through without a reply', () => {
      expect(
        parseStreamFrame(JSON.stringify({ type: 'SYSTEM', headers: { messageId: 'm3', topic: 'KEEPALIVE' }, data: '{}' })),
      ).to.deep.equal({
        kind: 'system',
        messageId: 'm3',
        topic: 'KEEPALIVE',
      });
    });
  });

  it('marks a CALLBACK push as unsupported (we subscribe to none)', () => {
    const push = parseStreamFrame(
      JSON.stringify({ type: 'CALLBACK', headers: { messageId: 'm4', topic: '/v1.0/im/bot/messages/get' }, data: '{}' }),
    );
    expect(push).to.deep.equal({ kind: 'unsupported', messageId: 'm4', type: 'CALLBACK', topic: '/v1.0/im/bot/messages/get' });
  });

  it('reads header values sent as numbers as strings', () => {
    const event = readEvent(eventFrame({ eventBornTime: 1731400000000, messageId: 77 })) as DirectoryEvent;
    expect(event.occurredAt).to.equal(1731400000000);
  });

  it('answers a ping whose headers hold null or objects, specVersion a number and data an object', () => {
    const push = parseStreamFrame(
      JSON.stringify({
        specVersion: 1,
        type: 'SYSTEM',
        headers: { messageId: 'm5', topic: 'ping', appId: null, extra: { a: 1 }, list: [1] },
        data: { opaque: 'op-5' },
      }),
    );
    expect(push).to.deep.equal({ kind: 'ping', messageId: 'm5', data: '{"opaque":"op-5"}' });
  });

  it('reads an event whose data came as an object, and one whose data is null as unreadable (still answered)', () => {
    const asObject = JSON.stringify({
      specVersion: 1,
      type: 'EVENT',
      headers: { messageId: 'm6', eventType: 'user_leave_org', eventId: 'e6', eventCorpId: null },
      data: { userId: ['u6'] },
    });
    expect(readEvent(asObject)).to.deep.include({ id: 'e6', userIds: ['u6'] });
    const asNull = JSON.stringify({ type: 'EVENT', headers: { messageId: 'm7', eventType: 'user_leave_org' }, data: null });
    expect(readEvent(asNull)).to.include({ id: 'm7', reason: 'event data is not a JSON object' });
  });

  for (const [what, text] of [
    ['text that is not JSON', 'hello'],
    ['a frame without headers', '{"type":"EVENT","data":"{}"}'],
    ['a frame without messageId', '{"type":"EVENT","headers":{"topic":"*"},"data":"{}"}'],
  ] as const) {
    it(`reports ${what} as invalid (nothing to reply to)`, () => {
      expect(parseStreamFrame(text).kind).to.equal('invalid');
    });
  }

  describe('replies (§10.4)', () => {
    it('acks an event with code 200, the messageId and data as a JSON string holding status', () => {
      const reply = JSON.parse(eventAck('msg-1', 'SUCCESS'));
      expect(reply).to.deep.equal({
        code: 200,
        headers: { contentType: 'application/json', messageId: 'msg-1' },
        message: 'OK',
        data: '{"status":"SUCCESS"}',
      });
      expect(JSON.parse(JSON.parse(eventAck('msg-2', 'LATER', 'database unavailable')).data)).to.deep.equal({
        status: 'LATER',
        message: 'database unavailable',
      });
    });

    it('answers a ping with its own data (the opaque)', () => {
      const reply = JSON.parse(pingReply('m1', '{"opaque":"op-1"}'));
      expect(reply).to.deep.equal({
        code: 200,
        headers: { contentType: 'application/json', messageId: 'm1' },
        message: 'OK',
        data: '{"opaque":"op-1"}',
      });
    });

    it('answers an unsupported push 404 with data as a JSON string', () => {
      const reply = JSON.parse(unsupportedReply('m4'));
      expect(reply).to.include({ code: 404 });
      expect(reply.headers.messageId).to.equal('m4');
      expect(JSON.parse(reply.data)).to.deep.equal({});
    });
  });
});
