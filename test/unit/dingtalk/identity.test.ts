import { expect } from 'chai';
import { toE164, toUpstreamIdentity } from '../../../src/dingtalk/identity.js';
import { contactUserSchema, userDetailSchema, type ContactUser, type UserDetail } from '../../../src/dingtalk/schemas.js';
import { successBodies } from '../../fixtures/dingtalk/payloads.js';

const me: ContactUser = contactUserSchema.parse(successBodies.usersMe.body);
const member: UserDetail = userDetailSchema.parse(successBodies.userGet.body.result);

describe('dingtalk/identity', () => {
  it('translates a member into our vocabulary', () => {
    const identity = toUpstreamIdentity({
      me,
      member,
      departments: [{ id: 101, name: '平台组', ancestors: [1, 100], path: '研发中心/平台组' }],
      corpId: 'ding5f8a2c4e71b3d902',
    });
    expect(identity).to.deep.equal({
      unionId: 'a1Xk9PqR2sVb7nLmC3dEfgiEiE',
      openId: 'Ws0QfRkJ3u2yHbN5vT8xLgiEiE',
      userId: '0226103541652',
      corpId: 'ding5f8a2c4e71b3d902',
      name: '李娜',
      nickname: '李娜',
      email: 'lina@yunqi-tech.cn',
      emailVerified: true,
      mobile: '+8613800000003',
      title: '高级后端工程师',
      jobNumber: 'A0103',
      managerUserId: 'manager7421',
      hiredAt: new Date('2019-07-01T00:00:00.000Z'),
      departments: [{ id: 101, name: '平台组', ancestors: [1, 100], path: '研发中心/平台组' }],
      isAdmin: false,
      isBoss: false,
      active: true,
      roleNames: ['研发'],
    });
  });

  it('keeps DingTalk field names out of the result', () => {
    const identity = toUpstreamIdentity({ me, member });
    for (const dingTalkName of ['unionid', 'userid', 'dept_id_list', 'org_email', 'state_code', 'job_number', 'role_list', 'nick']) {
      expect(identity).not.to.have.property(dingTalkName);
    }
  });

  it('does not trust the personal email from users/me', () => {
    const identity = toUpstreamIdentity({ me: { ...me, email: 'me@example.com' } });
    expect(identity.email).to.equal('me@example.com');
    expect(identity.emailVerified).to.equal(false);
  });

  it('prefers the organisation mailbox and marks only it verified', () => {
    const withAdminEmail = { ...member, email: 'typed-by-admin@example.com' };
    expect(toUpstreamIdentity({ me, member: withAdminEmail })).to.include({ email: 'lina@yunqi-tech.cn', emailVerified: true });
    const { org_email: _ignored, ...noOrgMail } = withAdminEmail;
    expect(toUpstreamIdentity({ me, member: noOrgMail })).to.include({ email: 'typed-by-admin@example.com', emailVerified: false });
  });

  it('says "none" (null) for an email only when every source read sent it empty', () => {
    const identity = toUpstreamIdentity({ me: { ...me, email: '' }, member: { ...member, email: '', org_email: '' } });
    expect(identity.email).to.equal(null);
    expect(identity.emailVerified).to.equal(false);
    // users/me not read (free login, directory reads): its personal email is unknown, not empty.
    expect(toUpstreamIdentity({ member: { ...member, email: '', org_email: '' } })).not.to.have.property('email');
    // One source left out (no email permission): unknown.
    const { email: _e, ...noEmailField } = member;
    expect(toUpstreamIdentity({ me: { ...me, email: '' }, member: { ...noEmailField, org_email: '' } })).not.to.have.property('email');
  });

  it('leaves out what it did not read: free login has no users/me, so no nickname, personal email or users/me avatar', () => {
    const { avatar: _a, ...noCustomAvatar } = member;
    const { email: _e, org_email: _o, ...noEmails } = noCustomAvatar;
    const identity = toUpstreamIdentity({ member: noEmails });
    expect(identity).not.to.have.property('nickname');
    expect(identity).not.to.have.property('email');
    // A read directory record without `avatar` says "no custom avatar", which alone is not "none".
    expect(identity).not.to.have.property('avatarUrl');
    expect(identity.name).to.equal('李娜');
  });

  it('clears (null) a single-source directory field DingTalk sent empty, and leaves out an absent one', () => {
    const { title: _t, ...noTitle } = member;
    const identity = toUpstreamIdentity({ member: { ...noTitle, job_number: '', manager_userid: ' ' } });
    expect(identity).not.to.have.property('title');
    expect(identity).to.include({ jobNumber: null, managerUserId: null });
  });

  it('clears the avatar when users/me sends an empty one and the directory has no custom one', () => {
    const { avatar: _a, ...noCustomAvatar } = member;
    expect(toUpstreamIdentity({ me: { ...me, avatarUrl: '' }, member: noCustomAvatar }).avatarUrl).to.equal(null);
    expect(toUpstreamIdentity({ me: { ...me, avatarUrl: 'https://a.example/me.png' }, member: noCustomAvatar }).avatarUrl).to.equal(
      'https://a.example/me.png',
    );
  });

  it('uses the directory name as name and the DingTalk nick as nickname', () => {
    const identity = toUpstreamIdentity({ me: { ...me, nick: '娜娜' }, member });
    expect(identity).to.include({ name: '李娜', nickname: '娜娜' });
  });

  it('falls back to users/me alone when no organisation is configured', () => {
    const identity = toUpstreamIdentity({ me, corpId: 'dingPicked' });
    expect(identity).to.deep.equal({
      unionId: me.unionId,
      openId: me.openId,
      corpId: 'dingPicked',
      name: '李娜',
      nickname: '李娜',
      emailVerified: false,
      mobile: '+8613800000003',
      departments: [],
      isAdmin: false,
      isBoss: false,
    });
  });

  it('builds a free-login identity from the directory record alone', () => {
    const identity = toUpstreamIdentity({ member: { ...member, admin: true, boss: true, active: false } });
    expect(identity).to.include({
      unionId: member.unionid,
      userId: member.userid,
      name: '李娜',
      isAdmin: true,
      isBoss: true,
      active: false,
    });
    expect(identity).not.to.have.property('openId');
  });

  it('refuses records without any unionId', () => {
    const { unionid: _ignored, ...noUnion } = member;
    expect(() => toUpstreamIdentity({ member: noUnion })).to.throw(TypeError);
  });

  describe('toE164', () => {
    it('joins state code and mobile', () => {
      expect(toE164('86', '13800000003')).to.equal('+8613800000003');
      expect(toE164('852', '6123 4567')).to.equal('+85261234567');
    });

    it('does not double an existing country code', () => {
      expect(toE164('86', '+86 13800000003')).to.equal('+8613800000003');
      expect(toE164('86', '86-13800000003')).to.equal('+8613800000003');
    });

    it('drops a number without a country code rather than guess', () => {
      expect(toE164(undefined, '13800000003')).to.equal(undefined);
      expect(toE164('86', '')).to.equal(undefined);
    });
  });
});
