/**
 * The emulator's directory reads checked against dingtalk-api.md §11 over real HTTP: paths, body
 * parameters, `result` shapes, paging with `cursor` / `next_cursor` / `has_more`, the §11.5 fields
 * of the list and the detail read, the documented error codes, the permission gates of §11.2, and
 * a generated organisation of 10 000 people walked the way §11.6 strategy A walks it.
 */
import { expect } from 'chai';
import { PERMISSION } from '../../../src/emulator/index.js';
import { CLIENT_ID, CLIENT_SECRET, PEOPLE, http, postJson, startEmulator, type Harness, type HttpResult } from './harness.js';

type Json = Record<string, unknown>;

describe('dingtalk emulator directory reads (dingtalk-api.md §11)', () => {
  let harness: Harness;
  let token: string;

  async function start(options: Parameters<typeof startEmulator>[0] = {}): Promise<void> {
    harness = await startEmulator(options);
    const answer = await postJson(`${harness.url}/v1.0/oauth2/accessToken`, { appKey: CLIENT_ID, appSecret: CLIENT_SECRET });
    token = String((answer.json as Json).accessToken);
  }

  afterEach(async () => {
    await harness.server.close();
  });

  async function oapi(path: string, payload: Json): Promise<HttpResult> {
    return postJson(`${harness.url}${path}?access_token=${encodeURIComponent(token)}`, payload);
  }

  /** `result` of a successful oapi answer (HTTP 200, errcode 0, errmsg ok, request_id). */
  async function result<T = Json>(path: string, payload: Json): Promise<T> {
    const answer = await oapi(path, payload);
    expect(answer.status).to.equal(200);
    const json = answer.json as Json;
    expect(json, answer.text).to.include({ errcode: 0, errmsg: 'ok' });
    expect(json.request_id).to.be.a('string');
    return json.result as T;
  }

  async function errcode(path: string, payload: Json): Promise<number> {
    const answer = await oapi(path, payload);
    expect(answer.status).to.equal(200);
    return (answer.json as Json).errcode as number;
  }

  describe('on the bundled organisation', () => {
    beforeEach(() => start());

    it('listsub returns the next level only, as an array, with the root as default', async () => {
      const top = await result<Json[]>('/topapi/v2/department/listsub', { language: 'zh_CN' });
      expect(top.map((d) => d.dept_id)).to.deep.equal([100, 200, 300]);
      expect(top[0]).to.include({ dept_id: 100, name: '研发中心', parent_id: 1 });
      expect(top[0]).to.include.all.keys('create_dept_group', 'auto_add_user', 'from_union_org', 'ext');
      expect((await result<Json[]>('/topapi/v2/department/listsub', { dept_id: 100 })).map((d) => d.dept_id)).to.deep.equal([101, 102]);
      expect(await result('/topapi/v2/department/listsub', { dept_id: 101 })).to.deep.equal([]);
      expect(await errcode('/topapi/v2/department/listsub', { dept_id: 999 })).to.equal(60003);
    });

    it('listsubid returns {dept_id_list}, and 400002 without dept_id', async () => {
      expect(await result('/topapi/v2/department/listsubid', { dept_id: 1 })).to.deep.equal({ dept_id_list: [100, 200, 300] });
      expect(await errcode('/topapi/v2/department/listsubid', {})).to.equal(400002);
      expect(await errcode('/topapi/v2/department/listsubid', { dept_id: 999 })).to.equal(60003);
    });

    it('department/get names the managers and spells extention as DingTalk does', async () => {
      const research = await result('/topapi/v2/department/get', { dept_id: 100 });
      expect(research).to.include({ dept_id: 100, parent_id: 1, name: '研发中心' });
      expect(research.dept_manager_userid_list).to.deep.equal([PEOPLE.admin.userid]);
      expect(research).to.have.property('extention');
      expect(await result('/topapi/v2/department/get', { dept_id: 1 })).not.to.have.property('parent_id');
    });

    it('listparentbydept lists the department itself first and the root last', async () => {
      expect(await result('/topapi/v2/department/listparentbydept', { dept_id: 101 })).to.deep.equal({ parent_id_list: [101, 100, 1] });
      expect(await errcode('/topapi/v2/department/listparentbydept', { dept_id: 999 })).to.equal(60003);
    });

    it('listparentbyuser gives one path per department the person is in, and 33012 for an unknown userid', async () => {
      expect(await result('/topapi/v2/department/listparentbyuser', { userid: PEOPLE.frontend.userid })).to.deep.equal({
        parent_list: [{ parent_dept_id_list: [102, 100, 1] }, { parent_dept_id_list: [201, 200, 1] }],
      });
      expect(await errcode('/topapi/v2/department/listparentbyuser', { userid: 'nobody' })).to.equal(33012);
    });

    it('user/listid lists direct members only, unpaged, without people who left', async () => {
      expect(await result('/topapi/user/listid', { dept_id: 101 })).to.deep.equal({ userid_list: [PEOPLE.platform.userid] });
      expect(await result('/topapi/user/listid', { dept_id: 100 })).to.deep.equal({ userid_list: [PEOPLE.admin.userid] });
      expect(await result('/topapi/user/listid', { dept_id: 1 })).to.deep.equal({ userid_list: [PEOPLE.boss.userid] });
      expect(await errcode('/topapi/user/listid', { dept_id: 999 })).to.equal(60003);
    });

    it('user/count counts the whole organisation, with or without the not yet activated', async () => {
      expect(await result('/topapi/user/count', { only_active: false })).to.deep.equal({ count: 6 });
      expect(await result('/topapi/user/count', { only_active: true })).to.deep.equal({ count: 5 });
      expect(await errcode('/topapi/user/count', {})).to.equal(400002);
      expect(await errcode('/topapi/user/count', { only_active: 'yes' })).to.equal(40035);
    });

    it('listsimple pages with cursor and size, next_cursor only while has_more', async () => {
      const first = await result('/topapi/user/listsimple', { dept_id: 201, cursor: 0, size: 1 });
      expect(first).to.deep.equal({ has_more: true, next_cursor: 1, list: [{ userid: PEOPLE.frontend.userid, name: '张伟' }] });
      const second = await result('/topapi/user/listsimple', { dept_id: 201, cursor: 1, size: 1 });
      expect(second).to.deep.equal({ has_more: false, list: [{ userid: PEOPLE.noEmail.userid, name: '刘洋' }] });
      const reversed = await result<{ list: Json[] }>('/topapi/user/listsimple', {
        dept_id: 201,
        cursor: 0,
        size: 10,
        order_field: 'entry_desc',
      });
      expect(reversed.list.map((p) => p.userid)).to.deep.equal([PEOPLE.noEmail.userid, PEOPLE.frontend.userid]);
    });

    it('refuses a paged read without dept_id, cursor or size (400002) or with size over 100 (40035)', async () => {
      expect(await errcode('/topapi/v2/user/list', { cursor: 0, size: 10 })).to.equal(400002);
      expect(await errcode('/topapi/v2/user/list', { dept_id: 1, size: 10 })).to.equal(400002);
      expect(await errcode('/topapi/v2/user/list', { dept_id: 1, cursor: 0 })).to.equal(400002);
      expect(await errcode('/topapi/v2/user/list', { dept_id: 1, cursor: 0, size: 101 })).to.equal(40035);
      expect(await errcode('/topapi/v2/user/list', { dept_id: 1, cursor: 0, size: 0 })).to.equal(40035);
      expect(await errcode('/topapi/v2/user/list', { dept_id: 1, cursor: 0, size: 10, order_field: 'name' })).to.equal(40035);
      expect(await errcode('/topapi/v2/user/list', { dept_id: 999, cursor: 0, size: 10 })).to.equal(60003);
    });

    it('v2/user/list items carry the list fields of §11.5 and none of the detail-only ones', async () => {
      const page = await result<{ list: Json[] }>('/topapi/v2/user/list', { dept_id: 100, cursor: 0, size: 100, language: 'zh_CN' });
      const [admin] = page.list;
      expect(admin).to.include({
        userid: PEOPLE.admin.userid,
        unionid: PEOPLE.admin.unionid,
        name: '王建国',
        job_number: 'A0002',
        title: '技术总监',
      });
      expect(admin).to.include({ hired_date: 1451606400000, leader: true, admin: true, boss: false, active: true, dept_order: 0 });
      expect(admin).to.include({
        mobile: '13900000002',
        state_code: '86',
        email: 'wjg@example.com',
        org_email: 'wangjianguo@yunqi-tech.cn',
      });
      expect(admin?.dept_id_list).to.deep.equal([100]);
      expect(admin?.extension).to.be.a('string');
      for (const detailOnly of ['manager_userid', 'role_list', 'senior', 'real_authed', 'union_emp_ext', 'org_email_type']) {
        expect(admin).not.to.have.property(detailOnly);
      }
    });

    it('v2/user/get carries manager_userid, hire date, job number, roles and the per-department flags', async () => {
      const admin = await result('/topapi/v2/user/get', { userid: PEOPLE.admin.userid, language: 'zh_CN' });
      expect(admin).to.include({ manager_userid: PEOPLE.boss.userid, hired_date: 1451606400000, job_number: 'A0002', senior: false });
      expect(admin.leader_in_dept).to.deep.equal([{ dept_id: 100, leader: true }]);
      expect(admin.dept_order_list).to.deep.equal([{ dept_id: 100, order: 0 }]);
      expect(admin.role_list).to.deep.include({ id: 2002, name: '主管理员', group_name: '默认' });
    });

    it('leaves mobile, state_code and email out, without an error, when the field permissions are off', async () => {
      harness.emulator.state.setPermissions(
        Object.values(PERMISSION).filter((p) => p !== PERMISSION.fieldMobile && p !== PERMISSION.fieldEmail),
      );
      const admin = await result('/topapi/v2/user/get', { userid: PEOPLE.admin.userid });
      const listed = (await result<{ list: Json[] }>('/topapi/v2/user/list', { dept_id: 100, cursor: 0, size: 10 })).list[0];
      for (const person of [admin, listed]) {
        expect(person).to.include({ userid: PEOPLE.admin.userid, org_email: 'wangjianguo@yunqi-tech.cn' });
        for (const field of ['mobile', 'state_code', 'email']) expect(person).not.to.have.property(field);
      }
    });

    it('answers 60011 for a read whose permission the app lacks (§11.2)', async () => {
      harness.emulator.state.setPermissions([PERMISSION.member]);
      expect(await errcode('/topapi/v2/department/listsub', {})).to.equal(60011);
      expect(await errcode('/topapi/v2/user/list', { dept_id: 1, cursor: 0, size: 10 })).to.equal(60011);
      expect(await result('/topapi/user/listid', { dept_id: 1 })).to.have.property('userid_list');
      harness.emulator.state.setPermissions([PERMISSION.departmentList, PERMISSION.departmentMember]);
      expect(await errcode('/topapi/user/listid', { dept_id: 1 })).to.equal(60011);
      expect(await errcode('/topapi/v2/user/get', { userid: PEOPLE.admin.userid })).to.equal(60011);
      expect(await errcode('/topapi/user/getbyunionid', { unionid: PEOPLE.admin.unionid })).to.equal(60011);
    });

    it('accepts a form-encoded body with the token among the fields (§11.1)', async () => {
      const form = await http(`${harness.url}/topapi/user/listsimple`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ access_token: token, dept_id: '101', cursor: '0', size: '10' }).toString(),
      });
      expect(form.json).to.deep.include({
        errcode: 0,
        result: { has_more: false, list: [{ userid: PEOPLE.platform.userid, name: '李娜' }] },
      });
    });
  });

  describe('on a generated organisation of 10 000 people', () => {
    before(function () {
      this.timeout(20_000);
    });
    beforeEach(async function () {
      this.timeout(20_000);
      await start({ generatedOrg: { size: 10_000, seed: 7 } });
    });

    it('is the same organisation for the same seed, and another for another seed', async () => {
      const { createEmulator } = await import('../../../src/emulator/index.js');
      const again = createEmulator({
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        corpId: 'x',
        generatedOrg: { size: 10_000, seed: 7 },
      });
      const other = createEmulator({
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        corpId: 'x',
        generatedOrg: { size: 10_000, seed: 8 },
      });
      const names = (state: typeof again.state) =>
        state.users().map((u) => `${u.userid}:${u.unionid}:${u.name}:${u.dept_id_list.join(',')}`);
      expect(names(again.state)).to.deep.equal(names(harness.emulator.state));
      expect(names(other.state)).not.to.deep.equal(names(harness.emulator.state));
    });

    it('is found whole by a sweep: listsub down to the leaves, then v2/user/list pages of 100 (§11.6 strategy A)', async function () {
      this.timeout(60_000);
      const departments: number[] = [];
      const depthOf = new Map<number, number>([[1, 1]]);
      const queue = [1];
      while (queue.length > 0) {
        const id = queue.shift()!;
        departments.push(id);
        for (const child of await result<Json[]>('/topapi/v2/department/listsub', { dept_id: id })) {
          const childId = child.dept_id as number;
          depthOf.set(childId, depthOf.get(id)! + 1);
          queue.push(childId);
        }
      }
      const people = new Map<string, Json>();
      let pages = 0;
      for (const deptId of departments) {
        let cursor = 0;
        for (;;) {
          const page = await result<{ has_more: boolean; next_cursor?: number; list: Json[] }>('/topapi/v2/user/list', {
            dept_id: deptId,
            cursor,
            size: 100,
          });
          pages += 1;
          for (const person of page.list) people.set(person.userid as string, person);
          if (!page.has_more) break;
          cursor = page.next_cursor!;
        }
      }
      const { count } = await result<{ count: number }>('/topapi/user/count', { only_active: false });
      expect(people.size).to.equal(count);
      expect(count).to.equal(10_006); // 10 000 generated + the bundled seed's 6 members
      expect(departments.length).to.be.above(400);
      expect(Math.max(...depthOf.values())).to.be.at.least(4);
      expect(pages).to.be.at.least(departments.length);
      const sample = people.get('2000000000042');
      expect(sample).to.include.all.keys('job_number', 'hired_date', 'title', 'leader', 'dept_id_list', 'unionid');
    });

    it('gives everyone but the top-level heads a manager_userid that is a member', async () => {
      const state = harness.emulator.state;
      const person = await result('/topapi/v2/user/get', { userid: '2000000009999' });
      const manager = person.manager_userid as string;
      expect(state.findMember(manager)).not.to.equal(undefined);
      const missing = state.users().filter((u) => u.userid?.startsWith('2') && u.manager_userid === undefined);
      expect(missing.length).to.be.at.most(8);
    });
  });
});
