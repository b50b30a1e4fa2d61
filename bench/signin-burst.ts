/**
 * A morning burst of sign-ins above DingTalk's limit (issue #13): BURST_SIGNINS people (400) start
 * signing in at BURST_RATE per second (40: twice DingTalk's 20 calls per second per API), all from
 * one office address, each in a browser of their own (no JavaScript: the wait page's meta refresh is
 * followed after its Retry-After). DingTalk is the emulator with its limits on (20/s per API per
 * calendar second, or any second with BURST_SLIDING=1; the per-address block); our server runs with
 * its defaults (call budget, abuse limits) unless BURST_BUDGET_PER_API overrides the budget's pace.
 *
 * Prints one JSON line: how many ended signed in, on the wait page's bound, on which error page, and
 * the time each person took from their first request to the application (median, p90, max), the wait
 * pages they saw, and the DingTalk calls spent, refused and throttled.
 *
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/dingtalk_oidc_bench_burst \
 *   BENCH_REDIS_URL=redis://127.0.0.1:6379/9 npx tsx bench/signin-burst.ts
 *
 * The database is created if missing and emptied; the Redis database is flushed.
 */
import pg from 'pg';
import { Redis } from 'ioredis';
import { startServer } from '../src/app/server.js';
import { loadConfig } from '../src/config/load.js';
import { createEmulator } from '../src/emulator/index.js';
import { createLogger } from '../src/log.js';
import { freePort } from './protocol.js';
import { Browser, formOf, type Page } from '../test/helpers/browser.js';

const SIGNINS = Number(process.env.BURST_SIGNINS ?? 400);
const RATE = Number(process.env.BURST_RATE ?? 40);
const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/dingtalk_oidc_bench_burst';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/9';
const PER_API = process.env.BURST_BUDGET_PER_API === undefined ? undefined : Number(process.env.BURST_BUDGET_PER_API);
const OFFICE = '203.0.113.7';
const APP = { clientId: 'dingburst-app', clientSecret: 'dingburst-secret-0123456789', corpId: 'dingburstcorp0000000001' };

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function freshDatabase(): Promise<void> {
  const url = new URL(DATABASE_URL);
  const name = url.pathname.slice(1);
  const admin = new pg.Client({ connectionString: Object.assign(new URL(DATABASE_URL), { pathname: '/postgres' }).toString() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const redis = new Redis(REDIS_URL);
  await redis.flushdb();
  redis.disconnect();
}

interface Outcome {
  result: string;
  ms: number;
  waitPages: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main(): Promise<void> {
  await freshDatabase();
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const emulator = createEmulator({
    ...APP,
    generatedOrg: { size: SIGNINS },
    redirectUris: [`${issuer}/dingtalk/callback`],
    ...(process.env.BURST_SLIDING === '1' ? { qpsWindow: 'sliding' as const } : {}),
  });
  const dingtalk = await emulator.listen(0, '127.0.0.1');
  const config = loadConfig({
    env: { NODE_ENV: 'test', DATABASE_URL, REDIS_URL },
    overrides: {
      port,
      host: '127.0.0.1',
      issuer,
      logLevel: 'silent',
      trustProxy: true, // the office address arrives in X-Forwarded-For
      database: { migrateOnStart: true },
      rateLimits: { enabled: true },
      dingtalk: {
        ...APP,
        loginBaseUrl: dingtalk.url,
        apiBaseUrl: dingtalk.url,
        oapiBaseUrl: dingtalk.url,
        ...(PER_API === undefined ? {} : { callBudget: { perApiPerSecond: PER_API, backgroundPerSecond: Math.min(PER_API, 10) } }),
      },
    },
  });
  const server = await startServer(config, createLogger({ logLevel: 'silent' }));
  const rp = await server.services.clientStore.add({
    name: 'burst-rp',
    redirectUris: ['https://rp.example.test/callback'],
    grantTypes: ['authorization_code'],
    firstParty: true,
  });
  const people = emulator.state
    .users()
    .filter((user) => user.status === 'member')
    .slice(-SIGNINS)
    .map((user) => user.unionid);

  async function signIn(unionId: string): Promise<Outcome> {
    const started = performance.now();
    const browser = new Browser({ 'x-forwarded-for': OFFICE });
    const origins = [issuer, dingtalk.url];
    let waitPages = 0;
    const done = (result: string): Outcome => ({ result, ms: performance.now() - started, waitPages });
    try {
      const auth = new URL(`${issuer}/auth`);
      auth.search = new URLSearchParams({
        client_id: rp.clientId,
        response_type: 'code',
        scope: 'openid profile',
        redirect_uri: 'https://rp.example.test/callback',
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
      }).toString();
      const login = await browser.follow(auth.toString(), origins);
      if (login.status !== 200) return done(`login_page_${login.status}`);
      const href = /href="(\/interaction\/[^"]+\/dingtalk)"/.exec(login.text)?.[1];
      if (!href) return done('no_dingtalk_link');
      const picker = await browser.follow(`${issuer}${href}`, origins);
      const form = formOf(picker.text);
      let page: Page = await browser.follow(new URL(form.action, picker.url).toString(), origins, {
        form: { ...form.fields, unionId },
      });
      while (page.status === 503 && page.text.includes('http-equiv="refresh"')) {
        waitPages += 1;
        await sleep(Number(page.headers.get('retry-after') ?? '1') * 1000);
        page = await browser.follow(page.url, origins);
      }
      const location = page.headers.get('location') ?? '';
      if (location.startsWith('https://rp.example.test/callback') && new URL(location).searchParams.has('code')) return done('signed_in');
      if (page.status === 429) return done('refused_429');
      return done(/<code>([^<]*)<\/code>/.exec(page.text)?.[1] ?? `status_${page.status}`);
    } catch (error) {
      return done(`error: ${(error as Error).message}`);
    }
  }

  const started = performance.now();
  const runs: Promise<Outcome>[] = [];
  for (let n = 0; n < people.length; n += 1) {
    const due = started + (n * 1000) / RATE;
    const delay = due - performance.now();
    if (delay > 0) await sleep(delay);
    runs.push(signIn(people[n]!));
  }
  const outcomes = await Promise.all(runs);
  const wallS = (performance.now() - started) / 1000;

  const results: Record<string, number> = {};
  for (const outcome of outcomes) results[outcome.result] = (results[outcome.result] ?? 0) + 1;
  const signedIn = outcomes
    .filter((o) => o.result === 'signed_in')
    .map((o) => o.ms)
    .sort((a, b) => a - b);
  const calls = await server.services.metrics.registry.getSingleMetricAsString('dingtalk_api_calls_total');
  const spent: Record<string, number> = {};
  for (const [, outcome, count] of calls.matchAll(/outcome="([a-z]+)"\} (\d+)/g)) spent[outcome!] = (spent[outcome!] ?? 0) + Number(count);

  console.log(
    JSON.stringify({
      signIns: people.length,
      ratePerSecond: RATE,
      budgetPerApi: PER_API ?? config.dingtalk.callBudget.perApiPerSecond,
      emulatorWindow: process.env.BURST_SLIDING === '1' ? 'sliding' : 'aligned',
      results,
      secondsToSignIn: {
        median: +(percentile(signedIn, 50) / 1000).toFixed(1),
        p90: +(percentile(signedIn, 90) / 1000).toFixed(1),
        max: +((signedIn.at(-1) ?? 0) / 1000).toFixed(1),
      },
      sawWaitPage: outcomes.filter((o) => o.waitPages > 0).length,
      waitPagesMax: Math.max(...outcomes.map((o) => o.waitPages)),
      dingtalkCalls: spent,
      wallSeconds: +wallS.toFixed(1),
    }),
  );
  await server.close();
  await dingtalk.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
