/**
 * The whole product with the DingTalk emulator on its own loopback port, reached only through the
 * DINGTALK_* settings, plus helpers named for the protocol steps of a login.
 */
import * as oidc from 'openid-client';
import type { DeepPartial } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import type { LoggerOptions } from '../../src/log.js';
import { createEmulator, defaultSeed, type Emulator, type RunningEmulator } from '../../src/emulator/index.js';
import { startTestServer, type TestServer, freePort } from './bootstrap.js';
import { Browser, formOf, type Page } from './browser.js';

export const CORP_ID = defaultSeed().corp.corpId;
export const USERS = {
  boss: 'ZJr4n0Yb8Wq2iPbVxXh3aQiEiE', // 陈晓明, boss
  admin: 'Ub9c2Kp7vQ0m3sTtLw5dHAiEiE', // 王建国, admin, org_email
  noEmail: 'Vw3LpS8dK1fJ6hQ0aZ9mRAiEiE', // 刘洋
  left: 'Kd8eF3gR6jT9wY1zB4nM7AiEiE', // 赵磊, left the organisation
  outsider: 'Pn2sV5cX8bL0kH3gJ6fD9AiEiE', // 孙丽, not a member
} as const;

export interface LoginWorld {
  server: TestServer;
  emulator: Emulator;
  dingtalk: RunningEmulator;
  close(): Promise<void>;
}

export async function startLoginWorld(overrides: DeepPartial<Config> = {}, logger?: LoggerOptions): Promise<LoginWorld> {
  const port = await freePort();
  const emulator = createEmulator({
    clientId: 'dingtest-app',
    clientSecret: 'dingtest-secret-0123456789',
    corpId: CORP_ID,
    redirectUris: [`http://127.0.0.1:${port}/dingtalk/callback`],
  });
  const dingtalk = await emulator.listen(0, '127.0.0.1');
  const server = await startTestServer(
    {
      ...overrides,
      dingtalk: {
        clientId: 'dingtest-app',
        clientSecret: 'dingtest-secret-0123456789',
        corpId: CORP_ID,
        loginBaseUrl: dingtalk.url,
        apiBaseUrl: dingtalk.url,
        oapiBaseUrl: dingtalk.url,
        timeoutMs: 1500,
        ...overrides.dingtalk,
      },
    },
    port,
    logger,
  );
  return {
    server,
    emulator,
    dingtalk,
    async close() {
      await server.close();
      await dingtalk.close();
    },
  };
}

export interface RelyingParty {
  clientId: string;
  clientSecret?: string;
  redirectUri: string;
  config: oidc.Configuration;
}

export async function registerRelyingParty(
  world: LoginWorld,
  options: {
    name?: string;
    firstParty?: boolean;
    public?: boolean;
    backchannelLogoutUri?: string;
    allowedResources?: Record<string, string[]>;
    /** Further client metadata (access_policy, id_token_claims, …). */
    metadata?: Record<string, unknown>;
  } = {},
): Promise<RelyingParty> {
  const redirectUri = 'https://rp.example.test/callback';
  const created = await world.server.services.clientStore.add({
    name: options.name ?? 'Grafana',
    redirectUris: [redirectUri],
    postLogoutRedirectUris: ['https://rp.example.test/logged-out'],
    firstParty: options.firstParty,
    public: options.public,
    backchannelLogoutUri: options.backchannelLogoutUri,
    allowedResources: options.allowedResources,
    metadata: options.metadata,
  });
  return relyingParty(world, { ...created, redirectUri });
}

/** The relying party of a client registered some other way (the CLI, a preset, the admin API). */
export async function relyingParty(
  world: LoginWorld,
  client: { clientId: string; clientSecret?: string; redirectUri: string },
): Promise<RelyingParty> {
  const auth = client.clientSecret ? oidc.ClientSecretBasic(client.clientSecret) : oidc.None();
  const config = await oidc.discovery(new URL(world.server.issuer), client.clientId, client.clientSecret, auth, {
    execute: [oidc.allowInsecureRequests],
  });
  return { clientId: client.clientId, clientSecret: client.clientSecret, redirectUri: client.redirectUri, config };
}

export interface Authorization {
  url: URL;
  state: string;
  nonce: string;
  verifier: string;
}

/** Build an authorization request with PKCE, state and nonce (openid-client). */
export async function authorize(rp: RelyingParty, params: Record<string, string> = {}): Promise<Authorization> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(rp.config, {
    redirect_uri: rp.redirectUri,
    scope: 'openid profile email phone roles dingtalk',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...params,
  });
  return { url, state, nonce, verifier };
}

/**
 * From the authorization URL to the page where DingTalk would ask who you are: returns the
 * emulator's picker page (the browser went /auth → /interaction/:uid → /interaction/:uid/dingtalk).
 */
export async function openDingTalkPicker(world: LoginWorld, browser: Browser, url: URL): Promise<Page> {
  const origins = [world.server.issuer, world.dingtalk.url];
  const login = await browser.follow(url.toString(), origins);
  if (login.status !== 200 || !login.text.includes('/dingtalk"')) {
    throw new Error(`expected the login page, got ${login.status} at ${login.url}`);
  }
  const href = /href="(\/interaction\/[^"]+\/dingtalk)"/.exec(login.text)![1]!;
  return browser.follow(`${world.server.issuer}${href}`, origins);
}

/** Pick a person in the emulator by unionId (or 'deny') and follow until the app or one of our pages. */
export async function pickInDingTalk(world: LoginWorld, browser: Browser, picker: Page, unionId: string): Promise<Page> {
  const form = formOf(picker.text);
  const fields = unionId === 'deny' ? { ...form.fields, decision: 'deny' } : { ...form.fields, unionId };
  return browser.follow(new URL(form.action, picker.url).toString(), [world.server.issuer, world.dingtalk.url], {
    form: fields,
  });
}

/** Approve (or deny) on our consent page; returns the redirect to the app. */
export async function answerConsent(world: LoginWorld, browser: Browser, page: Page, decision: 'approve' | 'deny'): Promise<Page> {
  const form = formOf(page.text, '/consent');
  return browser.follow(new URL(form.action, world.server.issuer).toString(), [world.server.issuer], {
    form: { ...form.fields, decision },
  });
}

/** The whole login for one person: DingTalk picker → (consent) → the app's callback URL. */
export async function loginViaDingTalk(
  world: LoginWorld,
  browser: Browser,
  rp: RelyingParty,
  unionId: string,
  params: Record<string, string> = {},
): Promise<{ callback: URL; request: Authorization }> {
  const request = await authorize(rp, params);
  const picker = await openDingTalkPicker(world, browser, request.url);
  let page = await pickInDingTalk(world, browser, picker, unionId);
  if (page.status === 200 && page.text.includes('/consent"')) page = await answerConsent(world, browser, page, 'approve');
  const location = page.headers.get('location');
  if (!location || !location.startsWith(rp.redirectUri)) {
    // The page's own words (its <main>), not the head every page shares: what went wrong.
    const main = /<main[^>]*>([\s\S]*?)<\/main>/.exec(page.text)?.[1] ?? page.text;
    const words = main
      .replace(/<[^>]+>/g, ' ')
      .replace(/\s+/g, ' ')
      .trim();
    throw new Error(`expected a redirect to the app, got ${page.status} at ${page.url}: ${words.slice(0, 400)}`);
  }
  return { callback: new URL(location), request };
}

export async function exchangeCode(rp: RelyingParty, callback: URL, request: Authorization) {
  return oidc.authorizationCodeGrant(rp.config, callback, {
    pkceCodeVerifier: request.verifier,
    expectedState: request.state,
    expectedNonce: request.nonce,
    idTokenExpected: true,
  });
}
