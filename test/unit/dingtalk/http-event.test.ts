import { expect } from 'chai';
import { isUnreadable, type DirectoryEvent } from '../../../src/dingtalk/directory-event.js';
import { parseHttpPush } from '../../../src/dingtalk/http-event.js';
import { eventFixtures } from '../../fixtures/dingtalk/payloads.js';

function eventOf(payload: unknown) {
  const push = parseHttpPush(typeof payload === 'string' ? payload : JSON.stringify(payload));
  if (push.kind !== 'event') throw new Error('expected an event');
  return push.event;
}

function readable(payload: unknown): DirectoryEvent {
  const event = eventOf(payload);
  if (isUnreadable(event)) throw new Error(`unreadable: ${event.reason}`);
  return event;
}

describe('dingtalk/http-event: an HTTP push into a DirectoryEvent', () => {
  it('reads the documented user_leave_org push', () => {
    const event = readable(eventFixtures.userLeaveOrg.body);
    expect(event).to.deep.include({
      transport: 'http',
      type: 'user_leave_org',
      corpId: 'ding5f8a2c4e71b3d902',
      userIds: ['0639027715563'],
      departmentIds: [],
      occurredAt: 1731400000000,
    });
    expect(event.id).to.match(/^http:[0-9a-f]{64}$/);
  });

  it('answers check_url as the handshake, not an event', () => {
    expect(parseHttpPush('{"EventType":"check_url"}')).to.deep.equal({ kind: 'check_url' });
  });

  it('gives the same change re-sent with its keys and lists in another order the same id, a later change another', () => {
    const a = eventOf({ EventType: 'org_dept_modify', DeptId: [3, 1], CorpId: 'c', TimeStamp: '1731400000000' });
    const b = eventOf({ TimeStamp: '1731400000000', CorpId: 'c', DeptId: [1, 3], EventType: 'org_dept_modify' });
    const later = eventOf({ EventType: 'org_dept_modify', DeptId: [1, 3], CorpId: 'c', TimeStamp: '1731400000001' });
    expect(a.id).to.equal(b.id);
    expect(later.id).to.not.equal(a.id);
  });

  it('is lenient where payloads vary: numeric strings for DeptId, a lone id, numbers for UserId, TimeStamp as a number or in seconds', () => {
    expect(readable({ EventType: 'org_dept_create', DeptId: ['100', ' 7 '], CorpId: 'c' }).departmentIds).to.deep.equal([100, 7]);
    expect(readable({ EventType: 'org_dept_create', DeptId: 100, CorpId: 'c' }).departmentIds).to.deep.equal([100]);
    expect(readable({ EventType: 'user_add_org', UserId: 'u1', CorpId: 'c' }).userIds).to.deep.equal(['u1']);
    expect(readable({ EventType: 'user_add_org', UserId: [12345], CorpId: 'c' }).userIds).to.deep.equal(['12345']);
    expect(readable({ EventType: 'user_add_org', UserId: null, CorpId: 'c' }).userIds).to.deep.equal([]);
    expect(readable({ EventType: 'user_add_org', TimeStamp: 1731400000000 }).occurredAt).to.equal(1731400000000);
    expect(readable({ EventType: 'user_add_org', TimeStamp: '1731400000' }).occurredAt).to.equal(1731400000000);
  });

  it('turns what does not fit into an UnreadableEvent with the reason, never an exception', () => {
    const cases: [unknown, string][] = [
      ['not json {', 'payload is not JSON'],
      ['[1,2]', 'payload is not a JSON object'],
      [{ UserId: ['u'] }, 'EventType is missing'],
      [{ EventType: 'org_dept_modify', DeptId: ['研发'] }, 'DeptId is not a list of department ids'],
      [{ EventType: 'org_dept_modify', DeptId: [0] }, 'DeptId is not a list of department ids'],
      [{ EventType: 'org_dept_modify', DeptId: [1.5] }, 'DeptId is not a list of department ids'],
      [{ EventType: 'user_add_org', UserId: [{}] }, 'UserId is not a list of userids'],
      [{ EventType: 'user_add_org', CorpId: 7 }, 'CorpId is not a string'],
      [{ EventType: 'user_add_org', TimeStamp: {} }, 'TimeStamp is not a time'],
    ];
    for (const [payload, reason] of cases) {
      const event = eventOf(payload);
      expect(event, JSON.stringify(payload)).to.deep.include({ transport: 'http', reason });
      expect(event.id).to.match(/^http:[0-9a-f]{64}$/);
    }
    // The same unreadable text re-sent is the same record.
    expect(eventOf('not json {').id).to.equal(eventOf('not json {').id);
  });
});
