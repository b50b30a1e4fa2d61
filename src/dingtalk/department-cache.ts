
/**
 * Where the client keeps department names, keyed by DingTalk department id. Names change rarely and
 * every login needs one lookup per department of the user, so caching them saves per-API QPS
 * (§6.1: 20/s per app).
 */
export interface DepartmentCache {
  get(deptId: number): Promise<string | undefined>;
  set(deptId: number, name: string): Promise<void>;
}

/** Options of {@link createMemoryDepartmentCache}. */
export interface MemoryDepartmentCacheOptions {
  /** How long a name is trusted. Default 10 minutes. */
  ttlMs?: number;
  /** Oldest entries are dropped beyond this. Default 10 000. */
  maxEntries?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/** A per-process cache; a rename shows up after at most `ttlMs`. */
export function createMemoryDepartmentCache(options: MemoryDepartmentCacheOptions = {}): DepartmentCache {
  const ttlMs = options.ttlMs ?? 10 * 60 * 1000;
  const maxEntries = options.maxEntries ?? 10_000;
  const now = options.now ?? Date.now;
  // A Map iterates in insertion order, which makes "drop the oldest" a single `keys().next()`.
  const entries = new Map<number, { name: string; expiresAt: number }>();

  return {
    async get(deptId) {
      const entry = entries.get(deptId);
      if (entry === undefined) return undefined;
      if (entry.expiresAt <= now()) {
        entries.delete(deptId);
        return undefined;
      }
      return entry.name;
    },
    async set(deptId, name) {
      entries.delete(deptId);
      entries.set(deptId, { name, expiresAt: now() + ttlMs });
      while (entries.size > maxEntries) {
        const oldest = entries.keys().next();
        if (oldest.done === true) break;
        entries.delete(oldest.value);
      }
    },
  };
}
