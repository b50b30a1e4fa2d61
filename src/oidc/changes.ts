import type { Logger } from '../log.js';
import type { Models } from '../db/models/index.js';
import type { ChangeNotifier } from '../store/notifications.js';
import { type AccountCache, watchAccountChanges } from './account-cache.js';
import type { ProviderHolder } from './provider.js';

/**
 * Every account write made in this process drops this process's copy at once and is announced to
 * the other processes (servers drop theirs; a CLI command's writes reach the servers). `flush`
 * waits for the announcements in flight (a command calls it before it exits).
 */
export function announceAccountChanges(models: Models, accountCache: AccountCache, notifier: ChangeNotifier): { flush(): Promise<void> } {
  const inFlight = new Set<Promise<void>>();
  watchAccountChanges(models, (change) => {
    accountCache.invalidate(change);
    const published = notifier.publish('accounts', change).finally(() => inFlight.delete(published));
    inFlight.add(published);
  });
  return {
    async flush() {
      await Promise.all(inFlight);
    },
  };
}

/** The per-process copies a change announced by any process makes stale. */
export interface ChangeFollowers {
  accountCache: AccountCache;
  /** Cached clients (one, or all) and resource servers. */
  clients: { invalidate(id?: string): void };
  resourceServers: { invalidate(): void };
  holder: Pick<ProviderHolder, 'reloadKeys'>;
  logger: Logger;
}

/**
 * Client, key and account changes reach every replica (and the CLI's reach the servers) at once:
 * every announcement, from any process (this one included), drops the matching copy here or
 * reloads the signing keys.
 */
export async function followChanges(notifier: ChangeNotifier, followers: ChangeFollowers): Promise<void> {
  const { accountCache, clients, resourceServers, holder, logger } = followers;
  await notifier.subscribe((topic, id) => {
    if (topic === 'clients') {
      clients.invalidate(id);
      resourceServers.invalidate();
    } else if (topic === 'accounts') {
      accountCache.invalidate(id ?? '*');
    } else if (topic === 'keys') {
      holder.reloadKeys().catch((error: unknown) => logger.warn({ err: error }, 'key reload failed'));
    }
  });
}
