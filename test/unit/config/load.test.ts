import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { checkConsistency, loadConfig, usesEmulator } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/errors/app-error.js';

// Random-looking values (as `openssl rand -hex 32` makes): production refuses repeats and words.
const STRONG = '3f9c1e7a5b2d8064f1a9c3e5b7d90246';
const COOKIE_A = 'b71e4c09a3f65d28e90c1b7f4a36d582';
const COOKIE_B = '0d5a9e3c7f1b86244c8e2a0f6d9b3175';
const PRODUCTION = {
  NODE_ENV: 'production',
  ISSUER: 'https://id.example.com',
  DATABASE_URL: 'postgres://u:p@db:5432/oidc',
  REDIS_URL: 'redis://redis:6379',
  DINGTALK_CLIENT_ID: 'dingabc',
  DINGTALK_CLIENT_SECRET: 'secret',
  DINGTALK_CORP_ID: 'dingcorp123',
  KEY_ENCRYPTION_SECRET: STRONG,
  COOKIE_SECRETS: `${COOKIE_A},${COOKIE_B}`,
  TRUST_PROXY: 'true',
  METRICS_TOKEN: 'c4e8a1f07b3d9265e0a7c3f1',
};

/** A generated event subscription token and EncodingAESKey (43 characters). */
const EVENT_SUBSCRIPTION = {
  DINGTALK_EVENT_TOKEN: randomBytes(16).toString('hex'),
  DINGTALK_EVENT_AES_KEY: randomBytes(40)
    .toString('base64')
    .replace(/[^A-Za-z0-9]/g, '')
    .slice(0, 43),
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
    // The built-in emulator speaks Stream too, so `npm start` receives its org events that way.
    expect(config.dingtalk.eventMode).to.equal('stream');
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
      expect(
        problems.some((p) => p.startsWith(name)),
        `${name} in ${problems.join(' | ')}`,
      ).to.equal(true);
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
    expect(problemsOf({ ISSUER: 'https://id.example.com/' })).to.deep.equal(['ISSUER: must have no trailing slash, query or fragment']);
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

    it('points the JSAPI script at the built-in emulator’s copy in development without DingTalk credentials', function () {
      const path = '/dingding/dingtalk-jsapi/3.0.25/dingtalk.open.js';
      expect(loadConfig({ env: { NODE_ENV: 'development', ISSUER: 'http://127.0.0.1:4000' } }).login.jsapiUrl).to.equal(
        `http://127.0.0.1:4000/dingtalk-emulator${path}`,
      );
      const withApp = { NODE_ENV: 'development', DINGTALK_CLIENT_ID: 'dingapp', DINGTALK_CLIENT_SECRET: 'secret' };
      expect(loadConfig({ env: withApp }).login.jsapiUrl).to.equal(`https://g.alicdn.com${path}`);
    });

    it('refuses a JSAPI script that is not https (the emulator’s stand-in), which development accepts', function () {
      const overrides = { login: { jsapiUrl: 'http://127.0.0.1:4000/dingding/dingtalk-jsapi/3.0.25/dingtalk.open.js' } };
      expect(() => loadConfig({ env: { NODE_ENV: 'development' }, overrides })).not.to.throw();
      try {
        loadConfig({ env: PRODUCTION, overrides });
        expect.fail('production accepted an http JSAPI URL');
      } catch (error) {
        expect((error as ConfigError).problems).to.deep.equal(['login.jsapiUrl: must be https in production']);
      }
    });

    it('refuses the CHANGE-ME placeholders of deploy/kubernetes/secret.yaml', function () {
      const sample = readFileSync(path.resolve(import.meta.dirname, '../../../deploy/kubernetes/secret.yaml'), 'utf8');
      const value = (name: string) => new RegExp(`^\\s+${name}: (.+)$`, 'm').exec(sample)![1]!.trim();
      const problems = problemsOf({
        ...PRODUCTION,
        DATABASE_URL: value('DATABASE_URL'),
        REDIS_URL: value('REDIS_URL'),
        DINGTALK_CLIENT_ID: value('DINGTALK_CLIENT_ID'),
        DINGTALK_CLIENT_SECRET: value('DINGTALK_CLIENT_SECRET'),
        KEY_ENCRYPTION_SECRET: value('KEY_ENCRYPTION_SECRET'),
        COOKIE_SECRETS: value('COOKIE_SECRETS'),
      });
      const names = problems.map((p) => p.split(':')[0]);
      expect(names).to.include.members([
        'DATABASE_URL',
        'REDIS_URL',
        'DINGTALK_CLIENT_ID',
        'DINGTALK_CLIENT_SECRET',
        'KEY_ENCRYPTION_SECRET',
        'COOKIE_SECRETS',
      ]);
      expect(problems.join('\n')).to.not.contain('CHANGE-ME');
    });

    it('refuses low-entropy secrets: repeats, runs and words', function () {
      for (const weak of [
        'k'.repeat(40),
        'abcdefghijklmnopqrstuvwxyz0123456789',
        'passwordpasswordpasswordpassword',
        '1212121212121212121212121212121212',
      ]) {
        expect(problemsOf({ ...PRODUCTION, KEY_ENCRYPTION_SECRET: weak }), weak).to.deep.equal([
          'KEY_ENCRYPTION_SECRET: too predictable to be a key (low entropy): generate one with `openssl rand -hex 32`',
        ]);
      }
      expect(problemsOf({ ...PRODUCTION, COOKIE_SECRETS: `${COOKIE_A},${'a'.repeat(32)}` })).to.deep.equal([
        'COOKIE_SECRETS (entry 2): too predictable to be a key (low entropy): generate one with `openssl rand -hex 32`',
      ]);
    });

    it('accepts generated values: 64 hex characters, base64url', function () {
      expect(
        problemsOf({
          ...PRODUCTION,
          KEY_ENCRYPTION_SECRET: randomBytes(32).toString('hex'),
          COOKIE_SECRETS: randomBytes(32).toString('base64url'),
        }),
      ).to.deep.equal([]);
    });

    it('refuses one value for both KEY_ENCRYPTION_SECRET and COOKIE_SECRETS', function () {
      expect(problemsOf({ ...PRODUCTION, COOKIE_SECRETS: `${COOKIE_A},${STRONG}` })).to.deep.equal([
        'KEY_ENCRYPTION_SECRET and COOKIE_SECRETS: the same value is used for both: give each its own',
      ]);
    });

    it('refuses /metrics on the public port without METRICS_TOKEN; METRICS_PORT moves it off', function () {
      const { METRICS_TOKEN: _token, ...open } = PRODUCTION;
      expect(problemsOf(open)).to.deep.equal([
        'METRICS_TOKEN or METRICS_PORT: set one in production, so /metrics is not open to everyone who reaches PORT',
      ]);
      expect(problemsOf({ ...open, METRICS_PORT: '9464' })).to.deep.equal([]);
      expect(loadConfig({ env: { ...open, METRICS_PORT: '9464' } }).metrics.port).to.equal(9464);
    });

    it('uses DingTalk Stream by default when no event token and key are set', function () {
      expect(loadConfig({ env: PRODUCTION }).dingtalk.eventMode).to.equal('stream');
    });

    it('uses HTTP events by default when the event token and key are set', function () {
      const config = loadConfig({ env: { ...PRODUCTION, ...EVENT_SUBSCRIPTION } });
      expect(config.dingtalk.eventMode).to.equal('http');
    });

    it('refuses DingTalk credentials without a deprovisioning path, among the other problems', function () {
      const problems = problemsOf({
        ...PRODUCTION,
        DINGTALK_EVENT_MODE: 'http',
        DINGTALK_SYNC_INTERVAL_MINUTES: '0',
        COOKIE_SECRETS: 'short',
      });
      expect(problems.map((p) => p.split(':')[0])).to.include.members(['DINGTALK_EVENT_MODE', 'COOKIE_SECRETS (secrets.cookieKeys.0)']);
      const problem = problems.find((p) => p.startsWith('DINGTALK_EVENT_MODE'))!;
      for (const name of [
        'DINGTALK_EVENT_MODE=stream',
        'DINGTALK_EVENT_TOKEN',
        'DINGTALK_EVENT_AES_KEY',
        'DINGTALK_SYNC_INTERVAL_MINUTES',
      ]) {
        expect(problem).to.contain(name);
      }
    });

    it('sweeps the directory every 60 minutes by default in production, and not elsewhere', function () {
      expect(loadConfig({ env: { ...PRODUCTION, DINGTALK_EVENT_MODE: 'http' } }).dingtalk.syncIntervalMinutes).to.equal(60);
      expect(problemsOf({ ...PRODUCTION, DINGTALK_EVENT_MODE: 'http' })).to.deep.equal([]);
      expect(loadConfig({ env: { NODE_ENV: 'development' } }).dingtalk.syncIntervalMinutes).to.equal(0);
      expect(loadConfig({ env: { ...PRODUCTION, DINGTALK_SYNC_INTERVAL_MINUTES: '15' } }).dingtalk.syncIntervalMinutes).to.equal(15);
    });

    it('provisions at sign-in by default; DINGTALK_PROVISION=directory from the sweep too; anything else is refused by name', function () {
      expect(loadConfig({ env: PRODUCTION }).dingtalk.provision).to.equal('login');
      expect(loadConfig({ env: { ...PRODUCTION, DINGTALK_PROVISION: 'directory' } }).dingtalk.provision).to.equal('directory');
      expect(problemsOf({ ...PRODUCTION, DINGTALK_PROVISION: 'everyone' })[0]).to.match(/^DINGTALK_PROVISION \(dingtalk\.provision\): /);
    });

    it('accepts each deprovisioning path: Stream, HTTP with token and key, or a sync interval', function () {
      expect(problemsOf({ ...PRODUCTION, DINGTALK_EVENT_MODE: 'stream' })).to.deep.equal([]);
      expect(problemsOf({ ...PRODUCTION, DINGTALK_EVENT_MODE: 'http', ...EVENT_SUBSCRIPTION })).to.deep.equal([]);
      expect(problemsOf({ ...PRODUCTION, DINGTALK_EVENT_MODE: 'http', DINGTALK_SYNC_INTERVAL_MINUTES: '60' })).to.deep.equal([]);
    });

    it('refuses an unknown DINGTALK_EVENT_MODE by name', function () {
      expect(problemsOf({ ...PRODUCTION, DINGTALK_EVENT_MODE: 'websocket' })[0]).to.match(/^DINGTALK_EVENT_MODE \(dingtalk\.eventMode\): /);
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
