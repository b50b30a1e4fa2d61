/**
 * A new user's first `npm start`, as root, in a clone under a folder other users cannot enter
 * (/root is mode 700): the embedded PostgreSQL runs as the user `postgres`, who cannot reach its
 * binaries or data. The command must say why and what to do in one message and exit non-zero,
 * not die on an unhandled 'error' event with a stack trace.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';

const run = promisify(execFile);
const BIN = path.resolve(import.meta.dirname, '../../../bin/dingtalk-oidc.js');

describe('embedded PostgreSQL under a folder its OS user cannot enter', function () {
  let closed: string;

  before(function () {
    // Only root hands PostgreSQL to another user; anyone else runs it as themselves.
    if (process.getuid?.() !== 0) this.skip();
  });

  beforeEach(function () {
    closed = mkdtempSync(path.join(tmpdir(), 'closed-'));
    mkdirSync(path.join(closed, 'checkout'));
    chmodSync(closed, 0o700);
  });

  afterEach(function () {
    if (closed) rmSync(closed, { recursive: true, force: true });
  });

  it('as root, refuses in one message that names the folder and what to do, and exits 1', async function () {
    // The data folder is relative to the working directory (config: database.embeddedDir).
    const cwd = path.join(closed, 'checkout');
    const result = await run(process.execPath, [BIN, 'migrate'], {
      cwd,
      env: { PATH: process.env.PATH, NODE_ENV: 'development' },
      timeout: 30_000,
    }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code?: number; stdout?: string; stderr?: string }) => ({
        code: error.code,
        stdout: error.stdout ?? '',
        stderr: error.stderr ?? '',
      }),
    );
    expect(result.code).to.equal(1);
    const errors = result.stderr.split('\n').filter((line) => line && !line.startsWith('oidc-provider WARNING'));
    expect(errors).to.have.length(1);
    expect(errors[0]).to.contain('cannot start the embedded PostgreSQL').and.contain(`cannot enter ${closed} (mode 700`);
    expect(errors[0]).to.contain('DATABASE_URL');
    expect(result.stderr).to.not.match(/EACCES|Unhandled 'error' event|\n\s+at /);
    expect(existsSync(path.join(cwd, 'data/postgres/PG_VERSION')), 'initdb never ran').to.equal(false);
  });
});
