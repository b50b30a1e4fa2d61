/**
 * Debian's Chromium driven by playwright-core, with the flags that work on these machines (no
 * sandbox as root; no background networking, which the closed network would refuse).
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Records CSP violations as the page sees them (in addition to Chromium's console messages). */
export const CSP_LISTENER = `
  globalThis.__cspViolations = [];
  document.addEventListener('securitypolicyviolation', (event) => {
    globalThis.__cspViolations.push(event.violatedDirective + ' blocked ' + (event.blockedURI || 'inline'));
  });
`;

/** A missing Chromium stops the run with what to install; it never skips. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install chromium`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Every button and link of the page, with its accessible name (from the accessibility tree). */
export async function controlsOf(page: Page): Promise<{ role: string; name: string }[]> {
  const found: { role: string; name: string }[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== 'object') return;
    const { role, name, children } = node as { role?: string; name?: string; children?: unknown };
    if (role === 'button' || role === 'link') found.push({ role, name: (name ?? '').trim() });
    walk(children);
  };
  walk(await page.locator('body').ariaSnapshotJSON());
  return found;
}
