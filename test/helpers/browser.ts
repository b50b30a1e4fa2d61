/**
 * A minimal browser for integration tests: a cookie jar per origin, manual redirects, forms.
 * Enough to walk the login flow the way a person's browser does (no JavaScript).
 */
import { request as undiciRequest } from 'undici';

export interface Page {
  url: string;
  status: number;
  headers: Headers;
  text: string;
}

export class Browser {
  private readonly jar = new Map<string, Map<string, string>>();

  constructor(
    private readonly headers: Record<string, string> = {},
    /**
     * Send what a browser sends when a person opens a page: `Sec-Fetch-Mode: navigate` and
     * `Sec-Fetch-Dest: document`. Relying parties such as mod_auth_openidc start a sign-in only
     * for such requests (others get 401). fetch() always says `cors`, so these go through undici's
     * request().
     */
    private readonly options: { navigation?: boolean } = {},
  ) {}

  cookies(origin: string): Map<string, string> {
    let cookies = this.jar.get(origin);
    if (!cookies) this.jar.set(origin, (cookies = new Map()));
    return cookies;
  }

  async request(url: string, init: { method?: string; form?: Record<string, string> } = {}): Promise<Page> {
    const target = new URL(url);
    const cookie = [...this.cookies(target.origin)].map(([k, v]) => `${k}=${v}`).join('; ');
    const method = init.method ?? (init.form ? 'POST' : 'GET');
    const headers = {
      ...this.headers,
      ...(cookie ? { cookie } : {}),
      ...(init.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
    };
    const response = this.options.navigation
      ? await navigate(target, method, headers, init.form)
      : await fetch(target, { method, redirect: 'manual', headers, body: init.form ? new URLSearchParams(init.form) : undefined });
    for (const header of response.headers.getSetCookie()) {
      const [pair = ''] = header.split(';');
      const index = pair.indexOf('=');
      const name = pair.slice(0, index).trim();
      const value = pair.slice(index + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(header) || value === '') this.cookies(target.origin).delete(name);
      else this.cookies(target.origin).set(name, value);
    }
    return { url: target.toString(), status: response.status, headers: response.headers, text: await response.text() };
  }

  /** Follow redirects while they stay on one of `origins`; returns the last page or the first off-site redirect. */
  async follow(url: string, origins: string[], init: { form?: Record<string, string> } = {}): Promise<Page> {
    let page = await this.request(url, init);
    for (let hops = 0; hops < 20 && page.status >= 300 && page.status < 400; hops += 1) {
      const next = new URL(page.headers.get('location')!, page.url);
      if (!origins.includes(next.origin)) return page;
      page = await this.request(next.toString());
    }
    return page;
  }
}

/** A top-level navigation as a browser sends it, through undici's request() (see Browser's options). */
async function navigate(
  target: URL,
  method: string,
  headers: Record<string, string>,
  form?: Record<string, string>,
): Promise<{ status: number; headers: Headers; text(): Promise<string> }> {
  const response = await undiciRequest(target, {
    method: method as 'GET' | 'POST',
    headers: {
      accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
      'sec-fetch-mode': 'navigate',
      'sec-fetch-dest': 'document',
      ...headers,
    },
    body: form ? new URLSearchParams(form).toString() : undefined,
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  });
  const answer = new Headers();
  for (const [name, value] of Object.entries(response.headers)) {
    for (const one of Array.isArray(value) ? value : [value ?? '']) answer.append(name, one);
  }
  const text = await response.body.text();
  return { status: response.statusCode, headers: answer, text: async () => text };
}

/** Hidden inputs and the action of the first form on a page (or the one whose action matches). */
export function formOf(html: string, actionIncludes?: string): { action: string; fields: Record<string, string> } {
  const forms = [...html.matchAll(/<form\b[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/g)];
  const match = forms.find((f) => !actionIncludes || decode(f[1]!).includes(actionIncludes));
  if (!match) throw new Error(`no form${actionIncludes ? ` with action ${actionIncludes}` : ''} on the page`);
  const fields: Record<string, string> = {};
  for (const input of match[2]!.matchAll(/<input\b[^>]*>/g)) {
    const name = /name="([^"]*)"/.exec(input[0])?.[1];
    const value = /value="([^"]*)"/.exec(input[0])?.[1] ?? '';
    if (name) fields[decode(name)] = decode(value);
  }
  return { action: decode(match[1]!), fields };
}

export function decode(text: string): string {
  return text
    .replaceAll('&amp;', '&')
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&#34;', '"')
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>');
}
