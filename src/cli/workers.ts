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
  let lastFork = 0;
  const fork = (): Worker => {
    lastFork = Date.now();
    return cluster.fork();
  };
  for (let i = 0; i < count; i += 1) fork();

  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    logger.error({ pid: worker.process.pid, code, signal }, 'worker died: starting another');
    const wait = Math.max(0, 1000 - (Date.now() - lastFork));
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
