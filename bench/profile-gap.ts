/**
 * Where ours' extra CPU per request goes, by purpose (issue #15): reads the V8 CPU profiles that
 * `BENCH_CPU_PROF=1 npm run bench` wrote for ours and bare, and the results of that run, and prints
 * each server's self time per request grouped by what it is for (access log, rate limits, metrics,
 * Redis client, GC, …), ours minus bare, as a share of ours.
 *
 *   BENCH_CPU_PROF=1 BENCH_SCENARIOS=client_credentials BENCH_ROUNDS=2 BENCH_DURATION=6 npm run bench
 *   npx tsx bench/profile-gap.ts            # the newest run and profiles
 *   npx tsx bench/profile-gap.ts <results.json> <ours profile dir> <bare profile dir>
 *
 * Only samples from the first to the last one inside oidc-provider count (start-up and shutdown
 * are left out; idle time too); requests are the run's measured responses plus its warm-ups at the
 * same rate. The profiler slows both servers (≈ 1.3–2.5×): read the shares, and the bench's own
 * figures for totals. One scenario per run: the profiles do not say which request was which.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}
interface Results {
  settings: { warmupS: number; durationS: number };
  runs: { server: string; requests: number; durationS: number }[];
}

const RESULTS = path.resolve(import.meta.dirname, 'results');

/** What a frame is for; frames of Node and V8 called from ours count for the caller's purpose. */
const PURPOSES: [string, RegExp][] = [
  ['access log (pino, its writes)', /pino|sonic-boom|^writeString /],
  ['metrics', /prom-client|middleware\/metrics|route-label/],
  ['rate limits', /rate-limit|flood-window|rate-limiter-flexible|lru-cache/],
  ['security headers', /security-headers/],
  ['request id', /request-id|crypto\/random/],
  ['Redis client and adapter', /ioredis|redis-adapter|denque|cluster-key-slot|redis-errors/],
  ['oidc-provider', /oidc-provider/],
  ['our provider hooks (client cache, 503 wrapper, 401 check)', /src\/oidc\/|src\/store\/unavailable/],
  [
    'Koa and our middleware chain',
    /koa|delegates|well-known|provider-first|error-page|app\/server|http\/app|on-finished|ee-first|type-is|vary/,
  ],
  ['AsyncLocalStorage (promise hooks)', /async_hooks/],
];
const RUNTIME = 'Node and V8 (HTTP, streams, microtasks, …)';

function purposeOf(node: ProfileNode): string | undefined {
  const { functionName, url } = node.callFrame;
  if (functionName === '(garbage collector)') return 'garbage collection';
  if (functionName === '(idle)') return 'idle';
  const frame = `${functionName} ${url}`;
  return PURPOSES.find(([, test]) => test.test(frame))?.[0];
}

/** Self time (µs) by purpose over the samples between the first and the last inside oidc-provider. */
function selfTimes(dir: string): Map<string, number> {
  const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no .cpuprofile in ${dir}`);
  const profile = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const purposeCache = new Map<number, string>();
  const purpose = (id: number): string => {
    let known = purposeCache.get(id);
    if (known === undefined) {
      known = purposeOf(byId.get(id)!) ?? (parent.has(id) ? purpose(parent.get(id)!) : RUNTIME);
      purposeCache.set(id, known);
    }
    return known;
  };
  const inProvider = (id: number): boolean => purpose(id) === 'oidc-provider';
  const first = profile.samples.findIndex(inProvider);
  const last = profile.samples.findLastIndex(inProvider);
  const totals = new Map<string, number>();
  for (let i = Math.max(first, 0); i <= last; i += 1) {
    const id = profile.samples[i]!;
    const own = purposeOf(byId.get(id)!);
    // Node's and V8's own frames count for whoever called them.
    const key = own ?? purpose(id);
    totals.set(key, (totals.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  totals.delete('idle');
  return totals;
}

function newest(filter: (name: string) => boolean, dir: string): string {
  const names = readdirSync(dir).filter(filter);
  if (names.length === 0) throw new Error(`nothing in ${dir}: run BENCH_CPU_PROF=1 npm run bench first`);
  return path.join(dir, names.sort((a, b) => statSync(path.join(dir, b)).mtimeMs - statSync(path.join(dir, a)).mtimeMs)[0]!);
}

const profiles = path.join(RESULTS, 'profiles');
const [resultsFile, oursDir, bareDir] = [
  process.argv[2] ?? newest((name) => name.endsWith('.json'), RESULTS),
  process.argv[3] ?? newest((name) => name.startsWith('ours-'), profiles),
  process.argv[4] ?? newest((name) => name.startsWith('bare-') && !name.startsWith('bare-our-adapter'), profiles),
];
const results = JSON.parse(readFileSync(resultsFile, 'utf8')) as Results;
const requestsOf = (server: string): number =>
  results.runs
    .filter((run) => run.server === server)
    .reduce((sum, run) => sum + run.requests * (1 + results.settings.warmupS / run.durationS), 0);

const ours = selfTimes(oursDir);
const bare = selfTimes(bareDir);
const [oursRequests, bareRequests] = [requestsOf('ours'), requestsOf('bare')];
const rows = [...new Set([...ours.keys(), ...bare.keys()])].map((purpose) => ({
  purpose,
  ours: (ours.get(purpose) ?? 0) / oursRequests,
  bare: (bare.get(purpose) ?? 0) / bareRequests,
}));
const oursTotal = rows.reduce((sum, row) => sum + row.ours, 0);
const bareTotal = rows.reduce((sum, row) => sum + row.bare, 0);
console.log(`${path.basename(resultsFile)}: ours ${path.basename(oursDir)}, bare ${path.basename(bareDir)}`);
console.log(
  `profiled CPU per request: ours ${oursTotal.toFixed(0)} µs, bare ${bareTotal.toFixed(0)} µs, gap ${(oursTotal - bareTotal).toFixed(0)} µs\n`,
);
console.log('| purpose | ours − bare, share of ours | ours µs/req | bare µs/req |\n|---|---:|---:|---:|');
for (const row of rows.sort((a, b) => b.ours - b.bare - (a.ours - a.bare))) {
  console.log(
    `| ${row.purpose} | ${((100 * (row.ours - row.bare)) / oursTotal).toFixed(1)} % | ${row.ours.toFixed(1)} | ${row.bare.toFixed(1)} |`,
  );
}
