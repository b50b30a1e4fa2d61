import { expect } from 'chai';
import { startSyncSchedule } from '../../../src/accounts/sync-schedule.js';
import { createLogger } from '../../../src/log.js';
import { createMemoryMarkerStore } from '../../../src/store/markers.js';

describe('scheduled DingTalk sync', function () {
  it('runs once per period however many replicas share the marker store', async function () {
    const markers = createMemoryMarkerStore();
    let runs = 0;
    const replicas = [1, 2, 3].map(() =>
      startSyncSchedule({ intervalMs: 40, markers, run: async () => (runs += 1), logger: createLogger({ logLevel: 'silent' }) }),
    );
    await new Promise((resolve) => setTimeout(resolve, 130));
    for (const replica of replicas) replica.stop();
    // ~3 periods: without the claim the three replicas would run ~9 times.
    expect(runs).to.be.within(1, 4);
  });

  it('keeps going after a failed run', async function () {
    let runs = 0;
    const schedule = startSyncSchedule({
      intervalMs: 20,
      markers: createMemoryMarkerStore(),
      run: async () => {
        runs += 1;
        throw new Error('DingTalk is down');
      },
      logger: createLogger({ logLevel: 'silent' }),
    });
    await new Promise((resolve) => setTimeout(resolve, 90));
    schedule.stop();
    expect(runs).to.be.at.least(2);
  });
});
