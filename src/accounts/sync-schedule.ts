import type { Logger } from '../log.js';
import type { MarkerStore } from '../store/markers.js';

export interface SyncSchedule {
  stop(): void;
}

/**
 * The directory sweep every `intervalMs` (accounts/directory-sweep.ts). Each period is claimed in
 * Redis first, so with several replicas (or workers) one of them runs it; the sweep's own lock
 * (PostgreSQL) keeps a second one from starting while a long one still runs.
 */
export function startSyncSchedule(options: {
  intervalMs: number;
  markers: MarkerStore;
  run: () => Promise<unknown>;
  logger: Logger;
  now?: () => number;
}): SyncSchedule {
  const now = options.now ?? Date.now;
  let running = false;
  const tick = async (): Promise<void> => {
    if (running) return;
    const period = Math.floor(now() / options.intervalMs);
    const ttl = Math.max(1, Math.ceil(options.intervalMs / 1000));
    try {
      if (!(await options.markers.claim(`dingtalk:sync:${period}`, ttl))) return;
      running = true;
      const summary = await options.run();
      options.logger.info({ summary }, 'scheduled DingTalk sync finished');
    } catch (error) {
      if ((error as { code?: unknown }).code === 'sweep.busy') options.logger.info('scheduled DingTalk sync: another one is running');
      else options.logger.warn({ err: error }, 'scheduled DingTalk sync failed');
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), options.intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
