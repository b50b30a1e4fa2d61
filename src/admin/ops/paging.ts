/** Pages of a list, as the console, the API and the CLI show them. */

export interface Paged<T> {
  items: T[];
  page: number;
  pageSize: number;
  total: number;
}

export const MAX_PAGE_SIZE = 100;

/** Page and page size from a query: whole numbers, clamped (bad input gives the defaults, never an error). */
export function pageOf(query: Record<string, unknown>, defaultSize = 25): { page: number; pageSize: number } {
  const int = (value: unknown): number | undefined => {
    const text: unknown = Array.isArray(value) ? value[0] : value;
    return typeof text === 'string' && /^\d{1,6}$/.test(text) ? Number(text) : undefined;
  };
  const page = Math.max(1, Math.min(10_000, int(query.page) ?? 1));
  const pageSize = Math.max(1, Math.min(MAX_PAGE_SIZE, int(query.pageSize) ?? defaultSize));
  return { page, pageSize };
}

/** Slices an in-memory list (roles, rules, clients: short lists) the same way. */
export function paginate<T>(items: readonly T[], page: number, pageSize: number): Paged<T> {
  return { items: items.slice((page - 1) * pageSize, page * pageSize), page, pageSize, total: items.length };
}
