/**
 * Where the client keeps department names and parents, keyed by DingTalk department id. They change
 * rarely and every login needs one lookup per department of the user and per ancestor, so caching
 * them saves per-API QPS (§6.1: 20/s per app).
 */
export interface DepartmentCache {
  get(deptId: number): Promise<string | undefined>;
  /** Name and, when it was stored with it, parent: what the ancestry walk needs without a call. */
  lookup(deptId: number): Promise<CachedDepartment | undefined>;
  /** `parentId`: the parent department, `null` for the root; omit it when unknown. */
  set(deptId: number, name: string, parentId?: number | null): Promise<void>;
}

/** A cached department; `parentId` is absent when only the name is known. */
export interface CachedDepartment {
  name: string;
  parentId?: number | null;
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
  const entries = new Map<number, { department: CachedDepartment; expiresAt: number }>();

  function fresh(deptId: number): CachedDepartment | undefined {
    const entry = entries.get(deptId);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= now()) {
      entries.delete(deptId);
      return undefined;
    }
    return entry.department;
  }

  return {
    async get(deptId) {
      return fresh(deptId)?.name;
    },
    async lookup(deptId) {
      const department = fresh(deptId);
      return department === undefined ? undefined : { ...department };
    },
    async set(deptId, name, parentId) {
      entries.delete(deptId);
      const department: CachedDepartment = parentId === undefined ? { name } : { name, parentId };
      entries.set(deptId, { department, expiresAt: now() + ttlMs });
      while (entries.size > maxEntries) {
        const oldest = entries.keys().next();
        if (oldest.done === true) break;
        entries.delete(oldest.value);
      }
    },
  };
}
