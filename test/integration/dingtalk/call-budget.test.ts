/**
 * The DingTalk call budget: one suite for both stores (Redis, shared by replicas; memory), then what
 * only Redis does — two budget instances on one Redis behave as two replicas sharing one budget — and
 * the fall-back to memory when Redis is down. Then the client on the budget against the emulator
 * with DingTalk's per-API limit on.
 *
 * Paces are slow (one call per 10 s) so that no assertion depends on how fast the test runs: a slot
 * taken is still taken when the next line asks.
 * Redis: REDIS_URL (default redis://127.0.0.1:6379), database TEST_REDIS_DB (default 15), flushed before each test.
 */
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import {
  BudgetExhaustedError,
  budgetKeys,
  createCallBudget,
  type CallBudget,
  type CallBudgetOptions,
  type SlotDecision,
  type SlotRequest,
} from '../../../src/dingtalk/call-budget.js';
import { createRedisCorpTokenCache } from '../../../src/dingtalk/corp-token-cache.js';
import { unreachableRedis, useTestRedis } from '../../helpers/redis.js';
import { PEOPLE, authCodeFor, clientFor, startEmulator, type Harness } from './harness.js';

/** One call per 10 s per API, bursts of 2; egress far away unless a test lowers it. */
const SLOW = { perApiPerSecond: 0.1, perApiBurst: 2, backgroundPerSecond: 0.1, egressPerSecond: 1000, egressBurst: 100 };

async function refusal(promise: Promise<unknown>): Promise<BudgetExhaustedError> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(BudgetExhaustedError);
    return error as BudgetExhaustedError;
  }
  throw new Error('expected the budget to refuse');
}

const signIn = (api: string, maxWaitMs = 0): SlotRequest => ({ api, priority: 'sign-in', maxWaitMs });
const background = (api: string, maxWaitMs = 0): SlotRequest => ({ api, priority: 'background', maxWaitMs });

function budgetSuite(name: string, make: (options: Omit<CallBudgetOptions, 'redis'>) => CallBudget): void {
  describe(`call budget: ${name}`, () => {
    let decisions: SlotDecision[];
    let budget: CallBudget;
    beforeEach(() => {
      decisions = [];
      budget = make({ appKey: 'app-a', limits: SLOW, onDecision: (decision) => decisions.push(decision) });
    });

    it('lets a burst of sign-ins through at once, then refuses one that would wait longer than it may', async () => {
      await budget.acquire(signIn('/v1.0/contact/users/me'));
      await budget.acquire(signIn('/v1.0/contact/users/me'));
      const error = await refusal(budget.acquire(signIn('/v1.0/contact/users/me')));
      expect(error.code).to.equal('dingtalk.busy');
      expect(error.status).to.equal(503);
      expect(error.retryAfterMs).to.be.above(0).and.at.most(10_000);
      expect(decisions.map((decision) => decision.granted)).to.deep.equal([true, true, false]);
    });

    it('counts each API on its own', async () => {
      await budget.acquire(signIn('/topapi/v2/user/get'));
      await budget.acquire(signIn('/topapi/v2/user/get'));
      await budget.acquire(signIn('/topapi/user/getbyunionid'));
      await refusal(budget.acquire(signIn('/topapi/v2/user/get')));
    });

    it('names the call that was refused', async () => {
      await budget.acquire(signIn('/x'));
      await budget.acquire(signIn('/x'));
      const error = await refusal(budget.acquire({ ...signIn('/x'), operation: 'dingtalk.user_get' }));
      expect(error.operation).to.equal('dingtalk.user_get');
      expect(error.api).to.equal('/x');
    });

    it('gives a sign-in a slot next to a sweep call: the sweep never makes it wait', async () => {
      await budget.acquire(background('/topapi/v2/user/get'));
      await budget.acquire(signIn('/topapi/v2/user/get'));
      expect(decisions.at(-1)).to.include({ granted: true, waitMs: 0 });
    });

    it('keeps the sweep off an API that sign-ins are using', async () => {
      await budget.acquire(signIn('/topapi/v2/user/get'));
      const error = await refusal(budget.acquire(background('/topapi/v2/user/get')));
      expect(error.retryAfterMs).to.be.above(0);
    });

    it('lets the sweep take an idle API', async () => {
      await budget.acquire(signIn('/topapi/v2/user/get'));
      await budget.acquire(background('/topapi/v2/department/listsub'));
      expect(decisions.map((decision) => decision.granted)).to.deep.equal([true, true]);
    });

    it('keeps the whole egress below its own limit, across APIs', async () => {
      const tight = make({ appKey: 'app-a', limits: { ...SLOW, egressPerSecond: 0.1, egressBurst: 1 } });
      await tight.acquire(signIn('/a'));
      await refusal(tight.acquire(signIn('/b')));
    });

    it('refuses limits that cannot work', () => {
      expect(() => make({ appKey: 'x', limits: { perApiPerSecond: 0 } })).to.throw(RangeError, /perApiPerSecond/);
      expect(() => make({ appKey: 'x', limits: { perApiPerSecond: 5, backgroundPerSecond: 10 } })).to.throw(
        RangeError,
        /backgroundPerSecond/,
      );
    });
  });
}

describe('DingTalk call budget', () => {
  let redis: Redis;
  useTestRedis((client) => (redis = client));

  budgetSuite('memory', (options) => createCallBudget(options));
  budgetSuite('Redis', (options) => createCallBudget({ ...options, redis }));

  describe('shared through Redis', () => {
    it('is one budget for two replicas: what one takes, the other cannot', async () => {
      const replicaA = createCallBudget({ appKey: 'app-a', limits: SLOW, redis });
      const replicaB = createCallBudget({ appKey: 'app-a', limits: SLOW, redis });
      await replicaA.acquire(signIn('/topapi/v2/user/get'));
      await replicaB.acquire(signIn('/topapi/v2/user/get'));
      await refusal(replicaA.acquire(signIn('/topapi/v2/user/get')));
      await refusal(replicaB.acquire(signIn('/topapi/v2/user/get')));
    });

    it('keeps a sweep on one replica off an API that sign-ins on another are using', async () => {
      const web = createCallBudget({ appKey: 'app-a', limits: SLOW, redis });
      const worker = createCallBudget({ appKey: 'app-a', limits: SLOW, redis });
      await web.acquire(signIn('/topapi/v2/user/get'));
      await refusal(worker.acquire(background('/topapi/v2/user/get')));
    });

    it('keeps apps apart (DingTalk counts per app) but shares the egress', async () => {
      const limits = { ...SLOW, egressPerSecond: 0.1, egressBurst: 3 };
      const appA = createCallBudget({ appKey: 'app-a', limits, redis });
      const appB = createCallBudget({ appKey: 'app-b', limits, redis });
      await appA.acquire(signIn('/x'));
      await appA.acquire(signIn('/x'));
      await appB.acquire(signIn('/x'));
      await refusal(appB.acquire(signIn('/y')));
    });

    it('stores one key per app and API, with a hash tag and an expiry', async () => {
      await createCallBudget({ appKey: 'app-a', limits: SLOW, redis }).acquire(signIn('/topapi/v2/user/get'));
      const [all] = budgetKeys('app-a', '/topapi/v2/user/get');
      expect(all).to.equal('dingtalk:budget:{app-a:/topapi/v2/user/get}:all');
      expect(Number(await redis.get(all))).to.be.above(0);
      expect(await redis.pttl(all)).to.be.above(0);
    });

    it('decides in memory when Redis is down, and says so', async () => {
      const down = unreachableRedis();
      const errors: unknown[] = [];
      const budget = createCallBudget({ appKey: 'app-a', limits: SLOW, redis: down, onRedisError: (error) => errors.push(error) });
      await budget.acquire(signIn('/x'));
      await budget.acquire(signIn('/x'));
      await refusal(budget.acquire(signIn('/x')));
      expect(errors.length).to.be.at.least(3);
      down.disconnect();
    });
  });

  describe('the client on the budget, against the emulator with DingTalk’s limit on', () => {
    let harness: Harness;
    afterEach(async () => {
      await harness?.server.close();
    });

    it('signs in a burst three times the per-API limit without a single throttled answer', async function () {
      this.timeout(30_000);
      harness = await startEmulator({ qpsLimit: 20 });
      const spent: string[] = [];
      const budget = createCallBudget({ appKey: 'app-a', redis });
      const client = clientFor(harness.url, {
        budget,
        tokenCache: createRedisCorpTokenCache({ redis, clientId: 'app-a' }),
        codeWaitMs: 10_000,
        onCall: (call) => spent.push(call.error ?? 'ok'),
      });
      const people = [PEOPLE.platform, PEOPLE.frontend, PEOPLE.admin, PEOPLE.boss, PEOPLE.noEmail];
      // Codes first (the login page is not DingTalk's API and has no limit), then 60 sign-ins at once.
      const codes = await Promise.all(Array.from({ length: 60 }, (_, n) => authCodeFor(client, people[n % people.length]!.unionid)));
      const identities = await Promise.all(codes.map((code) => client.fetchIdentity(code)));
      expect(identities).to.have.length(60);
      expect(spent.filter((outcome) => outcome !== 'ok')).to.deep.equal([]);
    });

    it('refuses with dingtalk.busy, without calling DingTalk, when no slot comes within the bound', async () => {
      harness = await startEmulator();
      const client = clientFor(harness.url, {
        budget: createCallBudget({ appKey: 'app-a', limits: SLOW, redis }),
        codeWaitMs: 0,
      });
      const first = await authCodeFor(client, PEOPLE.platform.unionid);
      const second = await authCodeFor(client, PEOPLE.frontend.unionid);
      const third = await authCodeFor(client, PEOPLE.admin.unionid);
      await client.exchangeCode(first);
      await client.exchangeCode(second);
      const calls = harness.emulator.state.countCalls('/v1.0/oauth2/userAccessToken');
      const error = await refusal(client.exchangeCode(third));
      expect(error.operation).to.equal('dingtalk.exchange_code');
      expect(harness.emulator.state.countCalls('/v1.0/oauth2/userAccessToken')).to.equal(calls);
    });
  });
});
