import { readFileSync } from 'node:fs';
import path from 'node:path';
import ejs from 'ejs';
import type { Context } from 'koa';
import { format, type Locale, messages, pickLocale } from '../../errors/messages.js';
import { currentRequest } from '../../log.js';
import { adminMessages } from './messages.js';
import type { AdminUser } from '../guard.js';

// views/ sits beside src/ (and three levels above dist/src/admin/console when built), as for ui/pages.ts.
const VIEWS_DIR = [path.resolve(import.meta.dirname, '../../../views'), path.resolve(import.meta.dirname, '../../../../views')].find(
  (dir) => {
    try {
      readFileSync(path.join(dir, 'admin', 'layout.ejs'));
      return true;
    } catch {
      return false;
    }
  },
)!;

export type AdminSection =
  'dashboard' | 'accounts' | 'roles' | 'audit' | 'clients' | 'sessions' | 'keys' | 'dingtalk' | 'events' | 'previews' | 'none';

/**
 * Renders `views/admin/<name>.ejs` inside the admin layout (a wide card with navigation), in the
 * look of the login pages. Templates escape everything with `<%=`; they get `t` (shared text), `a`
 * (admin text), `fmt` (placeholders), `date` (a readable UTC time), `locale`, `cspNonce`, the
 * signed-in `user` (if any), a CSRF token `csrf` and the current `section`.
 */
export function createAdminRenderer() {
  const cache = new Map<string, ejs.TemplateFunction>();
  const template = (name: string): ejs.TemplateFunction => {
    let fn = cache.get(name);
    if (!fn) {
      const file = path.join(VIEWS_DIR, 'admin', `${name}.ejs`);
      fn = ejs.compile(readFileSync(file, 'utf8'), { filename: file, async: false });
      cache.set(name, fn);
    }
    return fn;
  };

  return {
    localeOf(ctx: Context): Locale {
      return pickLocale(ctx.get('accept-language'));
    },

    /** Sets the response to the page (status 200 unless given). */
    page(ctx: Context, name: string, data: Record<string, unknown> & { title?: string; section?: AdminSection; status?: number }): void {
      const locale = pickLocale(ctx.get('accept-language'));
      const t = messages(locale);
      const a = adminMessages(locale);
      const user = ctx.state.adminUser as AdminUser | undefined;
      const common = {
        t,
        a,
        locale,
        fmt: format,
        date: formatDate,
        cspNonce: currentRequest()?.cspNonce ?? '',
        user,
        csrf: ctx.state.csrfToken?.() ?? '',
        section: data.section ?? 'none',
        query: ctx.query,
      };
      const body = template(name)({ ...common, ...data });
      ctx.status = data.status ?? 200;
      ctx.type = 'html';
      ctx.body = template('layout')({ ...common, body, title: data.title ?? a.consoleName });
    },
  };
}

export type AdminRenderer = ReturnType<typeof createAdminRenderer>;

/** `2025-03-01 09:30 UTC`; empty for nothing. */
export function formatDate(value: unknown): string {
  if (value === null || value === undefined || value === '') return '';
  const date = value instanceof Date ? value : new Date(typeof value === 'number' && value < 1e12 ? value * 1000 : (value as string));
  if (Number.isNaN(date.getTime())) return '';
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
