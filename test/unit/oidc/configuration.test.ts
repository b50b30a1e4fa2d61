import { expect } from 'chai';
import type { Adapter, Configuration } from 'oidc-provider';
import { loadConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/schema.js';
import { accountClaims } from '../../../src/oidc/claims.js';
import { buildConfiguration } from '../../../src/oidc/configuration.js';
import type { Account } from '../../../src/db/models/account.js';

const adapter = {} as Adapter;
function build(config: Config): Configuration {
  return buildConfiguration(config, {
    adapterFor: () => adapter,
    clientAdapter: adapter,
    findAccount: async () => undefined,
    jwks: [],
    staticClients: [],
    findResourceServer: async () => undefined,
    renderError: async () => undefined,
    logoutSource: async () => undefined,
    postLogoutSuccessSource: async () => undefined,
  });
}

describe('provider configuration', function () {
  const local = build(loadConfig({ env: { NODE_ENV: 'test' } }));
  const tls = build(loadConfig({ env: { NODE_ENV: 'test', ISSUER: 'https://id.example.com' } }));

  it('offers only the code flow and turns off development interactions', function () {
    expect(local.responseTypes).to.deep.equal(['code']);
    expect(local.features?.devInteractions?.enabled).to.equal(false);
    expect(local.allowOmittingSingleRegisteredRedirectUri).to.equal(false);
  });

  it('sets every TTL explicitly', function () {
    for (const model of [
      'AccessToken',
      'AuthorizationCode',
      'ClientCredentials',
      'IdToken',
      'RefreshToken',
      'Interaction',
      'Session',
      'Grant',
    ]) {
      expect(local.ttl, model).to.have.property(model);
    }
  });

  it('sets introspection and revocation policies explicitly', function () {
    expect(local.features?.introspection?.allowedPolicy).to.be.a('function');
    expect(local.features?.revocation?.allowedPolicy).to.be.a('function');
  });

  it('accepts POST at the authorization endpoint only with https (SameSite=None cookies)', function () {
    expect(local.enableHttpPostMethods).to.equal(false);
    expect(local.cookies?.long?.sameSite).to.equal('lax');
    expect(tls.enableHttpPostMethods).to.equal(true);
    expect(tls.cookies?.long?.sameSite).to.equal('none');
  });

  it('maps the DESIGN.md scopes to claims', function () {
    expect(local.claims).to.deep.include({ roles: ['roles', 'groups'], email: ['email', 'email_verified'] });
    expect(local.scopes).to.include.members(['openid', 'offline_access', 'profile', 'email', 'phone', 'roles', 'dingtalk']);
  });
});

describe('account claims', function () {
  const account = {
    id: 'a1b2',
    unionId: 'union-1',
    userId: 'manager7',
    corpId: 'ding1',
    name: '张三',
    nickname: null,
    avatarUrl: null,
    email: null,
    emailVerified: false,
    mobile: '+8613800000000',
    title: '工程师',
    jobNumber: 'E001',
    departments: [{ id: 2, name: '研发中心' }],
  } as unknown as Account;

  it('uses the ASCII userid as preferred_username, never the Chinese name', function () {
    expect(accountClaims(account, []).preferred_username).to.equal('manager7');
  });

  it('leaves out email claims when there is no email', function () {
    const claims = accountClaims(account, []);
    expect(claims.email).to.equal(undefined);
    expect(claims.email_verified).to.equal(undefined);
  });

  it('carries roles and groups as arrays of strings', function () {
    const claims = accountClaims(account, ['admin', 'grafana-editor']);
    expect(claims.roles).to.deep.equal(['admin', 'grafana-editor']);
    expect(claims.groups).to.deep.equal(['admin', 'grafana-editor']);
    expect(claims.departments).to.deep.equal(['研发中心']);
  });
});
