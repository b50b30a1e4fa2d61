import { readFileSync } from 'node:fs';
import path from 'node:path';
import ejs from 'ejs';
import { type Locale, messages, pickLocale } from '../errors/messages.js';
import { currentRequest } from '../log.js';

// views/ sits beside src/ in the source tree; the build copies nothing, so dist/ looks two levels up.
const VIEWS_DIR = [path.resolve(import.meta.dirname, '../../views'), path.resolve(import.meta.dirname, '../../../views')].find((dir) => {
  try {
    readFileSync(path.join(dir, 'layout.ejs'));
    return true;
  } catch {
    return false;
  }
})!;

export interface PageRenderer {
  /**
   * Render `views/<name>.ejs` inside the layout; every value is escaped by the templates. Both get
   * `cspNonce`, the nonce of the response being served, for their `<script nonce="…">` tags.
   */
  render(name: string, locale: Locale, data: Record<string, unknown>): string;
  localeOf(acceptLanguage: string | undefined): Locale;
}

export function createPageRenderer(): PageRenderer {
  const cache = new Map<string, ejs.TemplateFunction>();
  const template = (name: string): ejs.TemplateFunction => {
    let fn = cache.get(name);
    if (!fn) {
      const file = path.join(VIEWS_DIR, `${name}.ejs`);
      fn = ejs.compile(readFileSync(file, 'utf8'), { filename: file, async: false });
      cache.set(name, fn);
    }
    return fn;
  };
  return {
    render(name, locale, data) {
      const t = messages(locale);
      // The response's CSP nonce (http/middleware/security-headers.ts), for `<script nonce>`.
      const cspNonce = currentRequest()?.cspNonce ?? '';
      const body = template(name)({ t, locale, cspNonce, ...data });
      // `refreshSeconds`: the page reloads itself (the sign-in wait page), without script.
      // `refreshUrl`: where it goes then (default: the same URL).
      const refresh = typeof data.refreshSeconds === 'number' ? { refreshSeconds: data.refreshSeconds, refreshUrl: data.refreshUrl } : {};
      return template('layout')({ t, locale, cspNonce, body, title: data.title ?? t.productName, ...refresh });
    },
    localeOf: pickLocale,
  };
}

export function readAsset(name: string): Buffer {
  return readFileSync(path.join(VIEWS_DIR, 'assets', path.basename(name)));
}
