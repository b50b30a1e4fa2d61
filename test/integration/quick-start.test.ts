/**
 * The README's quick start, as a newcomer runs it: `npm start` in development (here on the test
 * database instead of the embedded one, whose port is fixed and could collide with another run;
 * test/integration/db/ covers the embedded one), its banner with the demo client, then the
 * README's two curl lines for a service token and its introspection.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { freePort, resetState, TEST_DATABASE_URL } from '../helpers/bootstrap.js';
import { codeBlocks } from '../helpers/docs.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const run = promisify(execFile);

describe('README quick start', function () {
  this.timeout(60_000); // tsx compiles the server on a cold start
  let server: ChildProcess | undefined;
  let output = '';
  let port: number;

  before(async function () {
    await resetState();
    port = await freePort();
    // `npm start`, without npm in between (npm would not pass SIGTERM on).
    const start = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start!;
    const [bin, ...args] = start.split(' ');
    server = spawn(path.join(ROOT, 'node_modules/.bin', bin!), args, {
      cwd: ROOT,
      env: { PATH: process.env.PATH, PORT: String(port), DATABASE_URL: TEST_DATABASE_URL },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    server.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    while (!/client_secret: +\S+\n/.test(output)) {
      if (server.exitCode !== null) throw new Error(`npm start ended: ${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  after(async function () {
    if (server && server.exitCode === null) {
      const exited = new Promise((resolve) => server!.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
    }
  });

  it('prints the issuer and a demo client, and the README curl lines get and introspect a service token', async function () {
    expect(output).to.contain(`Issuer:     http://localhost:${port}`);
    const secret = /client_secret: +(\S+)/.exec(output)![1]!;
    const [, curls] = codeBlocks('README.md', 'sh');
    const [token, introspection] = curls!
      .trim()
      .split('\n')
      .map((line) => line.replaceAll('localhost:3000', `localhost:${port}`).replaceAll('<secret>', secret));
    const issued = JSON.parse((await run('bash', ['-c', token!])).stdout) as { access_token: string; token_type: string };
    expect(issued.token_type).to.equal('Bearer');
    const active = JSON.parse((await run('bash', ['-c', introspection!.replace('<access_token>', issued.access_token)])).stdout) as {
      active: boolean;
      client_id: string;
    };
    expect(active).to.include({ active: true, client_id: 'demo' });
  });
});
