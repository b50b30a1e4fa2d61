/**
 * The call budget's arithmetic on a clock of its own (memory store, no I/O): the pace it promises
 * against DingTalk's sliding second, and the order it gives sign-ins and sweeps.
 */
import { expect } from 'chai';
import { BudgetExhaustedError, createCallBudget, DEFAULT_CALL_BUDGET_LIMITS } from '../../../src/dingtalk/call-budget.js';

/** A clock that moves only when a caller sleeps. */
function fakeClock(): { now: () => number; sleep: (ms: number) => Promise<void> } {
  let t = 1_000_000;
  return {
    now: () => t,
    sleep: async (ms) => {
      t += ms;
    },
  };
}

/** The most grants inside any window of `windowMs` (DingTalk's sliding second). */
function busiestWindow(times: number[], windowMs: number): number {
  let most = 0;
  for (let i = 0, j = 0; i < times.length; i += 1) {
    while (times[i]! - times[j]! >= windowMs) j += 1;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

describe('dingtalk/call-budget (memory, fake clock)', () => {
  it('never lets more than 18 calls of one API into any second at the default pace (DingTalk allows 20)', async () => {
    const clock = fakeClock();
    const budget = createCallBudget({ appKey: 'a', ...clock });
    const granted: number[] = [];
    for (let n = 0; n < 200; n += 1) {
      await budget.acquire({ api: '/x', priority: 'sign-in', maxWaitMs: 60_000 });
      granted.push(clock.now());
    }
    expect(busiestWindow(granted, 1000)).to.be.at.most(DEFAULT_CALL_BUDGET_LIMITS.perApiPerSecond + DEFAULT_CALL_BUDGET_LIMITS.perApiBurst);
    expect(busiestWindow(granted, 1000)).to.be.below(20);
    // …and keeps the pace it promises: 200 calls take about 200 / 15 s.
    expect(granted.at(-1)! - granted[0]!).to.be.within(12_000, 14_000);
  });

  it('tells a refused sign-in when the next slot is', async () => {
    const clock = fakeClock();
    const budget = createCallBudget({ appKey: 'a', limits: { perApiPerSecond: 10, perApiBurst: 1, backgroundPerSecond: 5 }, ...clock });
    await budget.acquire({ api: '/x', priority: 'sign-in', maxWaitMs: 0 });
    try {
      await budget.acquire({ api: '/x', priority: 'sign-in', maxWaitMs: 0 });
      expect.fail('expected a refusal');
    } catch (error) {
      expect(error).to.be.instanceOf(BudgetExhaustedError);
      expect((error as BudgetExhaustedError).retryAfterMs).to.equal(100);
    }
  });

  it('paces a sweep alone at its own, slower rate', async () => {
    const clock = fakeClock();
    const budget = createCallBudget({ appKey: 'a', ...clock });
    const granted: number[] = [];
    for (let n = 0; n < 50; n += 1) {
      await budget.acquire({ api: '/x', priority: 'background', maxWaitMs: 60_000 });
      granted.push(clock.now());
    }
    expect(busiestWindow(granted, 1000)).to.be.at.most(DEFAULT_CALL_BUDGET_LIMITS.backgroundPerSecond + 1);
  });

  it('lets no sweep call in while sign-ins are queued for the API', async () => {
    const clock = fakeClock();
    const budget = createCallBudget({ appKey: 'a', limits: { perApiPerSecond: 10, perApiBurst: 2, backgroundPerSecond: 10 }, ...clock });
    // Five sign-ins reserve the next slots (the first two at once, then one per 100 ms).
    for (let n = 0; n < 5; n += 1) await budget.acquire({ api: '/x', priority: 'sign-in', maxWaitMs: 0 }).catch(() => undefined);
    try {
      await budget.acquire({ api: '/x', priority: 'background', maxWaitMs: 0 });
      expect.fail('expected the sweep to be kept off');
    } catch (error) {
      expect(error).to.be.instanceOf(BudgetExhaustedError);
    }
  });
});
