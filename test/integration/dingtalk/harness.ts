/**
 * Test harness: a real emulator on 127.0.0.1:0 and the real client pointed at it — only the base URLs
 * differ from production (dex connector/oauth/oauth_test.go style). Also a browser stand-in for the
 * emulator's login page (plain forms, so no browser is needed).
 */
import { request } from 'undici';
import { createDingTalkClient, type DingTalkClient, type DingTalkClientOptions } from '../../../src/dingtalk/client.js';
import { createMemoryCorpTokenCache } from '../../../src/dingtalk/corp-token-cache.js';
import { createEmulator, type Emulator, type EmulatorOptions, type RunningEmulator } from '../../../src/emulator/emulator.js';

export const CLIENT_ID = 'dingtestapp7x2k9q';
export const CLIENT_SECRET = 'test-secret-0123456789abcdef0123456789abcdef';
export const CORP_ID = 'ding5f8a2c4e71b3d902';
export const REDIRECT_URI = 'http://127.0.0.1:9/dingtalk/callback';

/** Seed people by role, as in src/emulator/seed.json. */
export const PEOPLE = {
  boss: { userid: '0136252843171', unionid: 'ZJr4n0Yb8Wq2iPbVxXh3aQiEiE' },
  admin: { userid: 'manager7421', unionid: 'Ub9c2Kp7vQ0m3sTtLw5dHAiEiE' },
  platform: { userid: '0226103541652', unionid: 'a1Xk9PqR2sVb7nLmC3dEfgiEiE' },
  frontend: { userid: '0331458726309', unionid: 'Qm7TgH2wZc5yN8rB1uVxKAiEiE' },
  noEmail: { userid: '0418892201744', unionid: 'Vw3LpS8dK1fJ6hQ0aZ9mRAiEiE' },
  inactive: { userid: '0527736410982', unionid: 'Hc6bN4xE0tY2rW7qU5sP1AiEiE' },
  left: { userid: '0639027715563', unionid: 'Kd8eF3gR6jT9wY1zB4nM7AiEiE' },
  outsider: { unionid: 'Pn2sV5cX8bL0kH3gJ6fD9AiEiE' },
} as const;

export interface Harness {
  emulator: Emulator;
  server: RunningEmulator;
  url: string;
}

/** Starts an emulator (QPS limit off unless asked for, so bursts of tests never trip it). */
export async function startEmulator(options: Partial<EmulatorOptions> = {}): Promise<Harness> {
  const emulator = createEmulator({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    corpId: CORP_ID,
    qpsLimit: false,
    ...options,
  });
  const server = await emulator.listen(0, '127.0.0.1');
  return { emulator, server, url: server.url };
}

/** The real client against `url`, with fast retries for tests. */
export function clientFor(url: string, overrides: Partial<DingTalkClientOptions> = {}): DingTalkClient {
  return createDingTalkClient({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    corpId: CORP_ID,
    loginBaseUrl: url,
    apiBaseUrl: url,
    oapiBaseUrl: url,
    timeoutMs: 1000,
    retries: 2,
    retryDelayMs: 5,
    throttleRetryDelayMs: 5,
    tokenCache: createMemoryCorpTokenCache(),
    ...overrides,
  });
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
}

/** One HTTP exchange with the emulator, body read and JSON-parsed when possible. */
export async function http(
  url: string,
  init: { method?: 'GET' | 'POST'; headers?: Record<string, string>; body?: string } = {},
): Promise<HttpResult> {
  const response = await request(url, {
    method: init.method ?? 'GET',
    ...(init.headers === undefined ? {} : { headers: init.headers }),
    ...(init.body === undefined ? {} : { body: init.body }),
  });
  const text = await response.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.statusCode, headers: response.headers, text, json };
}

/** POST JSON. */
export function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<HttpResult> {
  return http(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

/** The form of the login page: its action and hidden fields. */
export function parseLoginForm(html: string): { action: string; hidden: Record<string, string>; unionIds: string[] } {
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  if (action === undefined) throw new Error('no login form on the page');
  const hidden: Record<string, string> = {};
  for (const match of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    hidden[unescape(match[1] ?? '')] = unescape(match[2] ?? '');
  }
  const unionIds = [...html.matchAll(/<button type="submit" name="unionId" value="([^"]+)"/g)].map((m) => unescape(m[1] ?? ''));
  return { action: unescape(action), hidden, unionIds };
}

function unescape(value: string): string {
  return value
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/**
 * Plays the browser on the login page: opens `authorizeUrl`, submits the form choosing `unionId` (or
 * Deny), and returns where DingTalk redirects to.
 */
export async function loginViaPage(authorizeUrl: string, choice: { unionId: string } | 'deny'): Promise<URL> {
  const page = await http(authorizeUrl);
  if (page.status !== 200) throw new Error(`login page answered ${page.status}: ${page.text}`);
  const form = parseLoginForm(page.text);
  const fields = new URLSearchParams(form.hidden);
  if (choice === 'deny') fields.set('decision', 'deny');
  else fields.set('unionId', choice.unionId);
  const answer = await http(new URL(form.action, authorizeUrl).toString(), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: fields.toString(),
  });
  const location = answer.headers.location;
  if (answer.status !== 302 || typeof location !== 'string') throw new Error(`expected a redirect, got ${answer.status}`);
  return new URL(location);
}

/** Login code for `unionId` through the page; reads `authCode ?? code` as §1.2 advises. */
export async function authCodeFor(client: DingTalkClient, unionId: string, state = 'st-123'): Promise<string> {
  const location = await loginViaPage(client.authorizationUrl({ redirectUri: REDIRECT_URI, state }), { unionId });
  const code = location.searchParams.get('authCode') ?? location.searchParams.get('code');
  if (code === null) throw new Error(`no code in ${location.toString()}`);
  return code;
}
