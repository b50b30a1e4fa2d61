import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { freePort, prepareServices, TEST_DATABASE_URL, TEST_REDIS_URL } from '../helpers/bootstrap.js';

const BIN = path.resolve(import.meta.dirname, '../../bin/dingtalk-oidc.js');

/** Worker processes of `pid` (its children running our CLI; tsx also starts an esbuild helper). */
function childrenOf(pid: number): number[] {
  let pids: number[];
  try {
    pids = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
  return pids.filter((child) => {
    try {
      return readFileSync(`/proc/${child}/cmdline`, 'utf8').includes('dingtalk-oidc');
    } catch {
      return false;
    }
  });
}

describe('WEB_CONCURRENCY workers', function () {
  this.timeout(60_000);

  it('serves from several workers on one port and stops them all on SIGTERM', async function () {
    await prepareServices();
    const port = await freePort();
    const child = spawn(process.execPath, [BIN, 'start'], {
      env: {
        PATH: process.env.PATH,
        NODE_ENV: 'test',
        DATABASE_URL: TEST_DATABASE_URL,
        REDIS_URL: TEST_REDIS_URL,
        PORT: String(port),
        ISSUER: `http://127.0.0.1:${port}`,
        WEB_CONCURRENCY: '2',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      let ok = false;
      for (let i = 0; i < 100 && !ok; i += 1) {
        ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
          (r) => r.ok,
          () => false,
        );
        if (!ok) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(ok, output).to.equal(true);
      for (let i = 0; i < 20; i += 1) {
        const response = await fetch(`http://127.0.0.1:${port}/.well-known/openid-configuration`);
        expect(response.status).to.equal(200);
      }
      const workers = childrenOf(child.pid!);
      expect(workers, output).to.have.length(2);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited, output).to.equal(0);
    expect(childrenOf(child.pid!)).to.deep.equal([]);
  });
});
