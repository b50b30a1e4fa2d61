import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '../log.js';

/**
 * WEB_CONCURRENCY > 1: this process forks that many workers, which share the listening port
 * (node:cluster hands out connections) and everything else through PostgreSQL and Redis. A worker
 * that dies unexpectedly is replaced (at most once a second); SIGTERM/SIGINT stop the workers
 * gracefully and the primary exits when the last one has.
 */
export async function runWorkers(count: number, logger: Logger): Promise<number> {
  let stopping = false;
  // Deaths within the last minute: each replacement waits longer (1 s, 2 s, 4 s … up to 60 s),
  // so a worker that cannot start does not spin.
  let deaths: number[] = [];
  const fork = (): Worker => cluster.fork();
  for (let i = 0; i < count; i += 1) fork();

  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    const now = Date.now();
    deaths = [...deaths.filter((at) => now - at < 60_000), now];
    const wait = Math.min(60_000, 1000 * 2 ** (deaths.length - 1));
    logger.error({ pid: worker.process.pid, code, signal, restartInMs: wait }, 'worker died: starting another');
    setTimeout(() => {
      if (!stopping) fork();
    }, wait);
  });

  return new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal, workers: Object.keys(cluster.workers ?? {}).length }, 'stopping workers');
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
      const force = setTimeout(() => {
        for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
        resolve(1);
      }, 20_000);
      force.unref();
      const done = (): void => {
        if (Object.keys(cluster.workers ?? {}).length === 0) {
          clearTimeout(force);
          resolve(0);
        }
      };
      cluster.on('exit', done);
      done();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
