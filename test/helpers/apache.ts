/**
 * Apache httpd with mod_auth_openidc, as Debian packages it (apache2, libapache2-mod-auth-openidc),
 * on a loopback port with a configuration of the test's own: a real relying party in front of a
 * real backend. Missing packages stop the test with a message that says what to install; it never
 * skips.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

const HTTPD = '/usr/sbin/apache2';
const MODULES = '/usr/lib/apache2/modules';
const NEEDED = [
  'mod_mpm_event',
  'mod_unixd',
  'mod_authn_core',
  'mod_authz_core',
  'mod_authz_user',
  'mod_log_config',
  'mod_headers',
  'mod_proxy',
  'mod_proxy_http',
  'mod_auth_openidc',
];

/** Modules built into Debian's apache2 binary (no .so to load). */
const BUILT_IN = new Set(['mod_unixd', 'mod_log_config']);

export interface RunningApache {
  url: string;
  /** Apache's error log so far (mod_auth_openidc explains its refusals there). */
  errorLog(): string;
  stop(): Promise<void>;
}

/** Stop the test with what to install when Apache or mod_auth_openidc is missing. */
export function requireApache(): void {
  const missing = [HTTPD, ...NEEDED.filter((m) => !BUILT_IN.has(m)).map((m) => path.join(MODULES, `${m}.so`))].filter(
    (f) => !existsSync(f),
  );
  if (missing.length > 0) {
    throw new Error(
      `Apache with mod_auth_openidc is needed by this test and is not installed (missing ${missing.join(', ')}): ` +
        'apt-get install apache2 libapache2-mod-auth-openidc (bash .ci/run installs them)',
    );
  }
}

/**
 * Start `apache2 -DFOREGROUND` on `port` with `site` (the directives of a virtual host: the guide's
 * configuration) inside a minimal server configuration.
 */
export async function startApache(port: number, site: string): Promise<RunningApache> {
  requireApache();
  const dir = mkdtempSync(path.join(tmpdir(), 'apache-'));
  const load = NEEDED.filter((m) => !BUILT_IN.has(m))
    .map((m) => `LoadModule ${m.slice(4)}_module ${MODULES}/${m}.so`)
    .join('\n');
  const asRoot = process.getuid?.() === 0;
  const config = `
ServerRoot ${dir}
DefaultRuntimeDir ${dir}
PidFile ${dir}/httpd.pid
ServerName 127.0.0.1
Listen 127.0.0.1:${port}
${load}
${asRoot ? 'User nobody\nGroup nogroup' : ''}
ErrorLog ${dir}/error.log
LogLevel warn auth_openidc:info
StartServers 1
ServerLimit 1
ThreadsPerChild 8
MaxRequestWorkers 8
<VirtualHost 127.0.0.1:${port}>
${site}
</VirtualHost>
`;
  const file = path.join(dir, 'httpd.conf');
  writeFileSync(file, config, { mode: 0o600 });
  const errorLog = (): string => (existsSync(path.join(dir, 'error.log')) ? readFileSync(path.join(dir, 'error.log'), 'utf8') : '');

  const httpd: ChildProcess = spawn(HTTPD, ['-f', file, '-DFOREGROUND'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  httpd.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  httpd.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => httpd.once('exit', () => resolve()));
  httpd.once('error', (error) => (output += String(error)));

  // Until it accepts connections, or has exited (a configuration error: its own words).
  for (let attempt = 0; ; attempt += 1) {
    if (httpd.exitCode !== null || httpd.signalCode !== null || attempt > 200) {
      httpd.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`apache2 did not start on port ${port}: ${output.trim()}\n${errorLog()}`);
    }
    if (await accepts(port)) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    errorLog,
    async stop() {
      if (httpd.exitCode === null && httpd.signalCode === null) {
        httpd.kill('SIGTERM'); // Apache's "stop now": the parent ends its children
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
