/**
 * The directory sweep on a large organisation (issue #13 item 1): the emulator with a generated
 * organisation (BENCH_SWEEP_PEOPLE, default 10 000, in about 500 departments several levels deep) and
 * DingTalk's per-API limit on (20 calls in any sliding second, 90018 above it), the product's own
 * services on PostgreSQL (DATABASE_URL) and Redis (REDIS_URL, the shared call budget), one sweep,
 * then a second (nothing to change), with a sign-in's DingTalk calls timed every half second meanwhile
 * (and 20 before, at the same pace, with no sweep). Prints the duration, the calls per API and their outcomes
 * (`throttled` must stay 0), the sign-in times, and the sweep's own figures.
 *
 *   DATABASE_URL=postgres://… REDIS_URL=redis://… npx tsx bench/sweep.ts
 *   BENCH_SWEEP_PROVISION=directory … (also creates every account: the DB side of a first run)
 */
import { loadConfig } from '../src/config/load.js';
import { migrate } from '../src/db/migrator.js';
import { createDatabase } from '../src/db/sequelize.js';
import { createEmulator } from '../src/emulator/index.js';
import { createLogger } from '../src/log.js';
import { composeServices } from '../src/app/compose.js';

const people = Number(process.env.BENCH_SWEEP_PEOPLE ?? 10_000);
const provision = process.env.BENCH_SWEEP_PROVISION === 'directory' ? 'directory' : 'login';
const databaseUrl = process.env.DATABASE_URL;
const redisUrl = process.env.REDIS_URL;
if (!databaseUrl || !redisUrl) {
  console.error('error: set DATABASE_URL and REDIS_URL (a database and a Redis database this bench may use)');
  process.exit(1);
}

const corpId = 'dingbenchsweep0001';
const emulator = createEmulator({ clientId: 'dingbench', clientSecret: 'bench-secret-0123456789', corpId, generatedOrg: { size: people } });
const running = await emulator.listen(0, '127.0.0.1');

const db = createDatabase(databaseUrl, { poolMax: 2 });
await migrate({ url: databaseUrl, sequelize: db.sequelize });
await db.sequelize.query('TRUNCATE accounts, audit_events RESTART IDENTITY CASCADE');
await db.close();

const config = loadConfig({
  env: {
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    DINGTALK_CLIENT_ID: 'dingbench',
    DINGTALK_CLIENT_SECRET: 'bench-secret-0123456789',
    DINGTALK_CORP_ID: corpId,
    DINGTALK_LOGIN_BASE_URL: running.url,
    DINGTALK_API_BASE_URL: running.url,
    DINGTALK_OAPI_BASE_URL: running.url,
    DINGTALK_PROVISION: provision,
    LOG_LEVEL: 'warn',
  },
});
const services = await composeServices(config, createLogger({ logLevel: 'warn' }));

async function callsByApi(): Promise<Record<string, Record<string, number>>> {
  const metric = await services.metrics.dingtalkCalls.get();
  const out: Record<string, Record<string, number>> = {};
  for (const value of metric.values) {
    const api = String(value.labels.api);
    out[api] = { ...out[api], [String(value.labels.outcome)]: value.value };
  }
  return out;
}

/** One sign-in's DingTalk part (code exchange, users/me, membership, directory record), timed in ms. */
const members = emulator.state.users().filter((user) => user.status === 'member');
let next = 0;
async function signInMs(): Promise<number> {
  const person = members[next++ % members.length]!;
  const code = emulator.state.issueAuthCode({ unionid: person.unionid, scope: 'openid corpid' });
  const started = performance.now();
  await services.dingtalk.signIn.identityFromCode(code);
  return performance.now() - started;
}
function stats(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(0);
  return `n=${values.length} median ${at(0.5)} ms, p90 ${at(0.9)} ms, max ${at(1)} ms`;
}

try {
  const idle: number[] = [];
  for (let i = 0; i < 20; i += 1) {
    idle.push(await signInMs());
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  console.log(`sign-ins with no sweep running: ${stats(idle)}`);
  for (const run of ['first', 'second']) {
    const during: number[] = [];
    const sweeping = new AbortController();
    const signIns = (async () => {
      while (!sweeping.signal.aborted) {
        during.push(await signInMs());
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    })();
    const started = performance.now();
    let lastLine = 0;
    const summary = await services.sweep.sweep({
      actor: 'bench',
      trigger: 'bench',
      onProgress: (progress) => {
        const now = performance.now();
        if (now - lastLine < 10_000) return;
        lastLine = now;
        console.log(
          `  … ${((now - started) / 1000).toFixed(0)} s: ${progress.phase} ${progress.done}/${progress.total}, ${progress.members} people`,
        );
      },
    });
    const seconds = (performance.now() - started) / 1000;
    sweeping.abort();
    await signIns;
    console.log(`${run} sweep: ${seconds.toFixed(1)} s`);
    console.log(`sign-ins during the ${run} sweep: ${stats(during)}`);
    console.log(JSON.stringify({ ...summary, failures: summary.failures.slice(0, 5) }, null, 2));
    console.log('calls by API and outcome (cumulative):', JSON.stringify(await callsByApi(), null, 2));
  }
} finally {
  await services.close();
  await running.close();
}
