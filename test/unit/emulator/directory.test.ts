import { expect } from 'chai';
import { generateOrg, GENERATED_DEPT_BASE } from '../../../src/emulator/org-generator.js';
import { defaultSeed } from '../../../src/emulator/seed.js';
import { EmulatorState } from '../../../src/emulator/state.js';

const LINA = '0226103541652'; // 李娜, 平台组 (101)

function makeState(): EmulatorState {
  return new EmulatorState({ seed: defaultSeed(), clientId: 'dingapp', clientSecret: 's', corpId: 'dingcorp' });
}

describe('emulator/directory', () => {
  it('follows changes in the member lists: leaving, joining, moving, a new person', () => {
    const state = makeState();
    const members = (deptId: number) => state.directory.membersOf(deptId).map((user) => user.userid);
    expect(members(101)).to.deep.equal([LINA]);
    state.markLeft(LINA);
    expect(members(101)).to.deep.equal([]);
    state.markMember(LINA);
    state.setProfile(LINA, { dept_id_list: [102] });
    expect(members(101)).to.deep.equal([]);
    expect(members(102)).to.include(LINA);
    state.addUser({ userid: 'new001', unionid: 'NewPerson001iEiE', name: '新人', dept_id_list: [101] });
    expect(members(101)).to.deep.equal(['new001']);
    expect(state.directory.memberCount(false)).to.equal(7);
  });

  it('follows new and removed departments in the tree', () => {
    const state = makeState();
    state.setDepartment({ dept_id: 103, name: '测试组', parent_id: 100, order: 3 });
    expect(state.directory.childrenOf(100).map((d) => d.dept_id)).to.deep.equal([101, 102, 103]);
    expect(state.directory.pathToRoot(103)).to.deep.equal([103, 100, 1]);
    state.removeDepartment(103);
    expect(state.directory.childrenOf(100).map((d) => d.dept_id)).to.deep.equal([101, 102]);
  });
});

describe('emulator/org-generator', () => {
  it('gives the same organisation for the same seed and another for another seed', () => {
    expect(generateOrg({ size: 500, seed: 3 })).to.deep.equal(generateOrg({ size: 500, seed: 3 }));
    expect(generateOrg({ size: 500, seed: 3 })).not.to.deep.equal(generateOrg({ size: 500, seed: 4 }));
  });

  it('builds about one department per 20 people, several levels deep, each headed by one of its members', () => {
    const org = generateOrg({ size: 10_000 });
    expect(org.users).to.have.length(10_000);
    expect(org.departments).to.have.length(500);
    expect(new Set(org.users.map((u) => u.userid)).size).to.equal(10_000);
    expect(new Set(org.users.map((u) => u.unionid)).size).to.equal(10_000);
    const parent = new Map(org.departments.map((d) => [d.dept_id, d.parent_id!]));
    const depth = (id: number): number => (id === 1 ? 0 : 1 + depth(parent.get(id)!));
    expect(Math.max(...org.departments.map((d) => depth(d.dept_id)))).to.be.at.least(4);
    expect(org.departments.every((d) => d.dept_id >= GENERATED_DEPT_BASE)).to.equal(true);
    const members = new Map<number, number>();
    const heads = new Map<number, number>();
    for (const user of org.users) {
      for (const id of user.dept_id_list) members.set(id, (members.get(id) ?? 0) + 1);
      for (const entry of user.leader_in_dept ?? []) if (entry.leader) heads.set(entry.dept_id, (heads.get(entry.dept_id) ?? 0) + 1);
    }
    for (const department of org.departments) {
      expect(heads.get(department.dept_id) ?? 0, `heads of ${department.dept_id}`).to.equal(members.has(department.dept_id) ? 1 : 0);
    }
  });

  it('gives nobody themselves as manager, and every manager is one of the generated people', () => {
    const org = generateOrg({ size: 2_000, seed: 9 });
    const ids = new Set(org.users.map((u) => u.userid));
    for (const user of org.users) {
      if (user.manager_userid === undefined) continue;
      expect(user.manager_userid).not.to.equal(user.userid);
      expect(ids.has(user.manager_userid)).to.equal(true);
    }
  });
});
