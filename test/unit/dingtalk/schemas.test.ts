import { expect } from 'chai';
import {
  appAccessTokenSchema,
  contactUserSchema,
  departmentSchema,
  freeLoginUserInfoSchema,
  gettokenSchema,
  oapiEnvelopeSchema,
  userAccessTokenSchema,
  userByUnionIdSchema,
  userDetailSchema,
} from '../../../src/dingtalk/schemas.js';
import { successBodies } from '../../fixtures/dingtalk/payloads.js';

describe('dingtalk/schemas', () => {
  it('parses the token responses with camelCase expireIn', () => {
    expect(userAccessTokenSchema.parse(successBodies.userAccessToken.body)).to.include({ expireIn: 7200, corpId: 'ding5f8a2c4e71b3d902' });
    expect(appAccessTokenSchema.parse(successBodies.appAccessToken.body).expireIn).to.equal(7200);
    expect(gettokenSchema.parse(successBodies.gettoken.body).expires_in).to.equal(7200);
  });

  it('rejects a token response in OAuth snake_case', () => {
    expect(userAccessTokenSchema.safeParse({ access_token: 'x', expires_in: 7200 }).success).to.equal(false);
  });

  it('parses the observed users/me body', () => {
    expect(contactUserSchema.parse(successBodies.usersMe.body)).to.include({ unionId: 'a1Xk9PqR2sVb7nLmC3dEfgiEiE', visitor: false });
  });

  it('parses oapi results under `result`', () => {
    const envelope = oapiEnvelopeSchema.parse(successBodies.getbyunionid.body);
    expect(envelope.errcode).to.equal(0);
    expect(userByUnionIdSchema.parse(successBodies.getbyunionid.body.result)).to.deep.equal({ contact_type: 0, userid: '0226103541652' });
    expect(userDetailSchema.parse(successBodies.userGet.body.result).dept_id_list).to.deep.equal([101]);
    expect(departmentSchema.parse(successBodies.departmentGet.body.result)).to.include({ dept_id: 101, name: '平台组', parent_id: 100 });
    expect(freeLoginUserInfoSchema.parse(successBodies.freeLoginUserInfo.body.result)).to.include({ userid: 'manager7421', sys_level: 1 });
  });

  it('defaults a missing dept_id_list to none', () => {
    expect(userDetailSchema.parse({ userid: 'u', name: 'n' }).dept_id_list).to.deep.equal([]);
  });

  it('rejects an oapi envelope without errcode', () => {
    expect(oapiEnvelopeSchema.safeParse({ result: {} }).success).to.equal(false);
  });
});
