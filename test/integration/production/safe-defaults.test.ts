/**
 * Production's safe defaults (issue #11): no start without DINGTALK_CORP_ID when DingTalk
 * credentials are set, and no hand-chosen CLIENTS_FILE secret shorter than 32 characters.
 * The real command line and the real composition root (composeServer), on the test PostgreSQL and Redis.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { loadConfig } from '../../../src/config/load.js';
import { createLogger } from '../../../src/log.js';
import { composeServer } from '../../../src/app/compose.js';
import { prepareServices, resetState, TEST_DATABASE_URL, TEST_REDIS_URL } from '../../helpers/bootstrap.js';
import { cli } from '../../helpers/cli.js';

const PRODUCTION = {
  NODE_ENV: 'production',
  ISSUER: 'http://127.0.0.1:3999', // http is allowed for a loopback issuer
  DATABASE_URL: TEST_DATABASE_URL,
  REDIS_URL: TEST_REDIS_URL,
  DINGTALK_CLIENT_ID: 'dingsafedefaults01',
  DINGTALK_CLIENT_SECRET: randomBytes(24).toString('hex'),
  DINGTALK_CORP_ID: 'dingsafecorp01',
  // Random, as `openssl rand -hex 32` makes them: production refuses repeats and words.
  KEY_ENCRYPTION_SECRET: randomBytes(32).toString('hex'),
  COOKIE_SECRETS: randomBytes(32).toString('hex'),
  METRICS_TOKEN: randomBytes(16).toString('hex'),
  LOG_LEVEL: 'silent',
};

describe('production safe defaults', function () {
  this.timeout(60_000);
  let dir: string;

  before(async function () {
    await prepareServices();
    dir = mkdtempSync(path.join(tmpdir(), 'clients-file-'));
  });

  // Signing keys are sealed with KEY_ENCRYPTION_SECRET: each case starts without any.
  beforeEach(async function () {
    await resetState();
  });

  after(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  function clientsFile(secret: string): string {
    const file = path.join(dir, `clients-${secret.length}.json`);
    writeFileSync(
      file,
      JSON.stringify([{ client_id: 'grafana', client_secret: secret, redirect_uris: ['https://grafana.example.com/login/generic_oauth'] }]),
    );
    return file;
  }

  it('start refuses DingTalk credentials without DINGTALK_CORP_ID and names it', async function () {
    const { DINGTALK_CORP_ID: _corp, ...withoutCorp } = PRODUCTION;
    const result = await cli(['start'], withoutCorp);
    expect(result.code).to.equal(2);
    expect(result.stderr).to.contain('DINGTALK_CORP_ID');
    expect(result.stderr).to.not.contain(PRODUCTION.DINGTALK_CLIENT_SECRET);
  });

  it('refuses a CLIENTS_FILE client_secret shorter than 32 characters, naming the client and not the secret', async function () {
    const secret = 'grafana-secret-2026';
    const config = loadConfig({ env: { ...PRODUCTION, CLIENTS_FILE: clientsFile(secret) } });
    let failure: Error | undefined;
    try {
      const services = await composeServer(config, createLogger(config));
      await services.close();
    } catch (error) {
      failure = error as Error;
    }
    expect(failure?.message).to.match(/CLIENTS_FILE .*grafana.*shorter than 32 characters/);
    expect(failure?.message).to.not.contain(secret);
  });

  it('accepts a CLIENTS_FILE client_secret of 32 characters or more', async function () {
    const config = loadConfig({ env: { ...PRODUCTION, CLIENTS_FILE: clientsFile(randomBytes(16).toString('hex')) } });
    const services = await composeServer(config, createLogger(config));
    await services.close();
  });

  it('accepts a short CLIENTS_FILE secret outside production (development fixtures)', async function () {
    const config = loadConfig({
      env: { NODE_ENV: 'test', DATABASE_URL: TEST_DATABASE_URL, REDIS_URL: TEST_REDIS_URL, CLIENTS_FILE: clientsFile('dev') },
    });
    const services = await composeServer(config, createLogger({ ...config, logLevel: 'silent' }));
    await services.close();
  });
});
