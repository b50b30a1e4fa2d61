import { expect } from 'chai';
import { checkConsistency, loadConfig, usesEmulator } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/errors/app-error.js';

const STRONG = 'k'.repeat(40);
const PRODUCTION = {
  NODE_ENV: 'production',
  ISSUER: 'https://id.example.com',
  DATABASE_URL: 'postgres://u:p@db:5432/oidc',
  REDIS_URL: 'redis://redis:6379',
  DINGTALK_CLIENT_ID: 'dingabc',
  DINGTALK_CLIENT_SECRET: 'secret',
  DINGTALK_CORP_ID: 'dingcorp123',
  KEY_ENCRYPTION_SECRET: STRONG,
  COOKIE_SECRETS: `${'a'.repeat(32)},${'b'.repeat(32)}`,
  TRUST_PROXY: 'true',
};

function problemsOf(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig({ env });
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    return [...(error as ConfigError).problems];
  }
  return [];
}

describe('config', function () {
  it('starts in development on the embedded defaults with nothing set', function () {
    const config = loadConfig({ env: {} });
    expect(config.env).to.equal('development');
    expect(config.port).to.equal(3000);
    expect(config.issuer).to.equal('http://localhost:3000');
    expect(config.database.url).to.equal(undefined);
    expect(config.redis.url).to.equal(undefined);
    expect(config.database.migrateOnStart).to.equal(true);
    expect(usesEmulator(config)).to.equal(true);
  });

  it('reads the variables of the contract', function () {
    const config = loadConfig({
      env: {
        PORT: '8080',
        DATABASE_URL: 'postgres://localhost/x',
        REDIS_URL: 'redis-sentinel://s1:26379,s2:26379/mymaster',
        DINGTALK_CLIENT_ID: 'id',
        DINGTALK_CLIENT_SECRET: 'secret',
        DINGTALK_CORP_ID: 'ding123',
        DINGTALK_API_BASE_URL: 'http://127.0.0.1:9999',
        ADMIN_DINGTALK_USERIDS: ' manager1, 0123 ,',
        CLIENTS_FILE: '/etc/clients.json',
      },
    });
    expect(config.port).to.equal(8080);
    expect(config.issuer).to.equal('http://localhost:8080');
    expect(config.redis.url).to.equal('redis-sentinel://s1:26379,s2:26379/mymaster');
    expect(config.dingtalk).to.include({ clientId: 'id', corpId: 'ding123', apiBaseUrl: 'http://127.0.0.1:9999' });
    expect(config.adminDingtalkUserids).to.deep.equal(['manager1', '0123']);
    expect(config.clientsFile).to.equal('/etc/clients.json');
    expect(usesEmulator(config)).to.equal(false);
  });

  it('is frozen all the way down', function () {
    const config = loadConfig({ env: {} });
    expect(Object.isFrozen(config)).to.equal(true);
    expect(Object.isFrozen(config.oidc.ttl)).to.equal(true);
    expect(Object.isFrozen(config.secrets.cookieKeys)).to.equal(true);
  });

  it('reports every problem at once, each with its variable name', function () {
    const problems = problemsOf({
      PORT: 'eighty',
      ISSUER: 'not a url',
      DATABASE_URL: 'mysql://x',
      DINGTALK_EVENT_AES_KEY: 'short',
      COOKIE_SECRETS: 'tooshort',
    });
    expect(problems).to.have.length.of.at.least(5);
    for (const name of ['PORT', 'ISSUER', 'DATABASE_URL', 'DINGTALK_EVENT_AES_KEY', 'COOKIE_SECRETS']) {
      expect(problems.some((p) => p.startsWith(name)), `${name} in ${problems.join(' | ')}`).to.equal(true);
    }
  });

  it('refuses an unknown NODE_ENV', function () {
    expect(problemsOf({ NODE_ENV: 'staging' })[0]).to.match(/^NODE_ENV/);
  });

  it('wants the DingTalk id and secret together', function () {
    expect(problemsOf({ DINGTALK_CLIENT_ID: 'only-id' })).to.deep.equal([
      'DINGTALK_CLIENT_ID and DINGTALK_CLIENT_SECRET: set both or neither',
    ]);
  });

  it('refuses an issuer with a trailing slash', function () {
    expect(problemsOf({ ISSUER: 'https://id.example.com/' })).to.deep.equal([
      'ISSUER: must have no trailing slash, query or fragment',
    ]);
  });

  describe('production', function () {
    it('starts with everything set', function () {
      const config = loadConfig({ env: PRODUCTION });
      expect(config.env).to.equal('production');
      expect(config.demoClient).to.equal(false);
      expect(config.secrets.cookieKeys).to.have.length(2);
    });

    it('refuses the embedded defaults, the emulator and the development secrets, naming each', function () {
      const problems = problemsOf({ NODE_ENV: 'production', ISSUER: 'https://id.example.com', TRUST_PROXY: '1' });
      const names = problems.map((p) => p.split(':')[0]);
      expect(names).to.include.members([
        'DATABASE_URL',
        'REDIS_URL',
        'DINGTALK_CLIENT_ID, DINGTALK_CLIENT_SECRET',
        'KEY_ENCRYPTION_SECRET',
        'COOKIE_SECRETS',
      ]);
      for (const problem of problems) expect(problem).to.not.contain('insecure-development-only');
    });

    it('refuses an http issuer, except on localhost', function () {
      expect(problemsOf({ ...PRODUCTION, ISSUER: 'http://id.example.com' })).to.deep.equal([
        'ISSUER: must be https in production (http is allowed only for localhost)',
      ]);
      expect(problemsOf({ ...PRODUCTION, ISSUER: 'http://localhost:3000' })).to.deep.equal([]);
      expect(problemsOf({ ...PRODUCTION, ISSUER: 'http://127.0.0.1:3000' })).to.deep.equal([]);
    });

    it('wants TRUST_PROXY with an https issuer, since TLS ends at a proxy', function () {
      expect(problemsOf({ ...PRODUCTION, TRUST_PROXY: '' })).to.deep.equal([
        'TRUST_PROXY: must be true with an https ISSUER (TLS is terminated by your load balancer or proxy)',
      ]);
    });

    it('refuses DingTalk credentials without DINGTALK_CORP_ID, naming it', function () {
      const { DINGTALK_CORP_ID: _corp, ...withoutCorp } = PRODUCTION;
      const problems = problemsOf(withoutCorp);
      expect(problems).to.have.length(1);
      expect(problems[0]).to.match(/^DINGTALK_CORP_ID: required in production/);
    });

    it('reports a missing DINGTALK_CORP_ID together with the other problems', function () {
      const { DINGTALK_CORP_ID: _corp, ...withoutCorp } = PRODUCTION;
      const names = problemsOf({ ...withoutCorp, REDIS_URL: '', TRUST_PROXY: '' }).map((p) => p.split(':')[0]);
      expect(names).to.include.members(['DINGTALK_CORP_ID', 'REDIS_URL', 'TRUST_PROXY']);
    });

    it('refuses DingTalk base URLs that are not https (an emulator)', function () {
      expect(problemsOf({ ...PRODUCTION, DINGTALK_API_BASE_URL: 'http://127.0.0.1:4000' })).to.deep.equal([
        'DINGTALK_API_BASE_URL: must be https in production',
      ]);
    });

    it('never prints a secret value in a problem', function () {
      const problems = problemsOf({ ...PRODUCTION, COOKIE_SECRETS: 'leaky-but-short', KEY_ENCRYPTION_SECRET: 'also-leaky' });
      expect(problems.join('\n')).to.not.contain('leaky');
    });
  });

  it('checkConsistency is pure over a Config', function () {
    const config = loadConfig({ env: PRODUCTION });
    expect(checkConsistency(config)).to.deep.equal([]);
  });
});
