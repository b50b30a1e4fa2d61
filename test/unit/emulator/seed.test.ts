import { expect } from 'chai';
import { defaultSeed, parseSeed } from '../../../src/emulator/seed.js';

const seed = parseSeed(defaultSeed());

describe('emulator/seed (the bundled organisation)', () => {
  it('has a ding… corpId', () => {
    expect(seed.corp.corpId).to.match(/^ding[0-9a-z]+$/);
  });

  it('nests departments two levels under root 1', () => {
    const byId = new Map(seed.departments.map((d) => [d.dept_id, d]));
    expect(byId.get(1)?.parent_id).to.equal(undefined);
    const depth = (id: number): number => {
      const parent = byId.get(id)?.parent_id;
      return parent === undefined ? 0 : 1 + depth(parent);
    };
    expect(Math.max(...seed.departments.map((d) => depth(d.dept_id)))).to.equal(2);
    expect(byId.get(101)).to.include({ name: '平台组', parent_id: 100 });
    expect(byId.get(102)).to.include({ name: '前端组', parent_id: 100 });
    expect(byId.get(201)).to.include({ name: '品牌组', parent_id: 200 });
    for (const user of seed.users) for (const id of user.dept_id_list) expect(byId.has(id), `dept ${id}`).to.equal(true);
  });

  it('has an admin, a boss, someone who left, an outsider and someone without any email', () => {
    expect(seed.users.some((u) => u.admin && u.status === 'member')).to.equal(true);
    expect(seed.users.some((u) => u.boss && u.status === 'member')).to.equal(true);
    expect(seed.users.filter((u) => u.status === 'left')).to.have.length(1);
    const outsider = seed.users.find((u) => u.status === 'outsider');
    expect(outsider?.userid).to.equal(undefined);
    expect(
      seed.users.some((u) => u.status === 'member' && u.email === undefined && u.org_email === undefined && u.personal_email === undefined),
    ).to.equal(true);
  });

  it('gives every person a stable unique unionId, and members a unique userid', () => {
    const unionIds = seed.users.map((u) => u.unionid);
    expect(new Set(unionIds).size).to.equal(unionIds.length);
    const userIds = seed.users.flatMap((u) => (u.userid === undefined ? [] : [u.userid]));
    expect(new Set(userIds).size).to.equal(userIds.length);
  });

  it('uses Chinese names, job numbers, titles, roles and +86 mobiles for members', () => {
    for (const user of seed.users.filter((u) => u.status === 'member')) {
      expect(user.name).to.match(/^[\u4e00-\u9fff]{2,4}$/);
      expect(user.job_number).to.match(/^A\d{4}$/);
      expect(user.title).to.be.a('string');
      expect(user.state_code).to.equal('86');
      expect(user.mobile).to.match(/^1\d{10}$/);
    }
    expect(seed.users.some((u) => u.role_list.length > 0)).to.equal(true);
  });

  it('rejects a member without a userid', () => {
    expect(() => parseSeed({ ...defaultSeed(), users: [{ unionid: 'u', name: '某人' }] })).to.throw();
  });
});
