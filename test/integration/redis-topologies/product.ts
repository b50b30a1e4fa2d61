/**
 * What the Redis topology tests ask of the running product, over HTTP only: discovery,
 * client_credentials, introspection, a DingTalk login through the emulator. Shared by the Cluster
 * and the Sentinel tests so both topologies are held to the same checks.
 */
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { Browser } from '../../helpers/browser.js';
import {
  exchangeCode,
  type LoginWorld,
  loginViaDingTalk,
  registerRelyingParty,
  type RelyingParty,
  USERS,
} from '../../helpers/login-flow.js';

export interface ServiceClient {
  clientId: string;
  clientSecret: string;
}

export interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
  text: string;
}

function basic(client: ServiceClient): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.clientSecret)}`).toString('base64')}`;
}

/** POST a form to `base + path` (client_secret_basic when `client` is given). Gives up after 10 s. */
export async function postForm(base: string, path: string, form: Record<string, string>, client?: ServiceClient): Promise<Answer> {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
      ...(client ? { authorization: basic(client) } : {}),
    },
    body: new URLSearchParams(form),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON: the test looks at `text`
  }
  return { status: response.status, headers: response.headers, body, text };
}

export function clientCredentials(base: string, client: ServiceClient): Promise<Answer> {
  return postForm(base, '/token', { grant_type: 'client_credentials' }, client);
}

/** client_credentials that must succeed: the access token. */
export async function issueToken(base: string, client: ServiceClient): Promise<string> {
  const answer = await clientCredentials(base, client);
  expect(answer.status, answer.text).to.equal(200);
  expect(answer.body.access_token).to.be.a('string');
  return answer.body.access_token as string;
}

/** Introspection by `client` (which must be the token's client or allowed to introspect it). */
export async function introspect(base: string, client: ServiceClient, token: string): Promise<Record<string, unknown>> {
  const answer = await postForm(base, '/token/introspection', { token }, client);
  expect(answer.status, answer.text).to.equal(200);
  return answer.body;
}

export async function addServiceClient(world: LoginWorld, name: string): Promise<ServiceClient> {
  const created = await world.server.services.clientStore.add({ name, grantTypes: ['client_credentials'] });
  return { clientId: created.clientId, clientSecret: created.clientSecret! };
}

/** Discovery and the key set answer, name this issuer, and /readyz sees Redis. */
export async function expectDiscovery(world: LoginWorld): Promise<void> {
  const discovery = await fetch(`${world.server.issuer}/.well-known/openid-configuration`);
  expect(discovery.status).to.equal(200);
  const metadata = (await discovery.json()) as Record<string, unknown>;
  expect(metadata.issuer).to.equal(world.server.issuer);
  expect(metadata.token_endpoint).to.equal(`${world.server.issuer}/token`);
  expect(metadata.introspection_endpoint).to.equal(`${world.server.issuer}/token/introspection`);
  const jwks = (await (await fetch(`${world.server.issuer}/jwks`)).json()) as { keys: unknown[] };
  expect(jwks.keys).to.be.an('array').with.lengthOf.above(0);
  const ready = await fetch(`${world.server.issuer}/readyz`);
  const readiness = (await ready.json()) as { checks?: Record<string, string> };
  expect(ready.status, JSON.stringify(readiness)).to.equal(200);
  expect(readiness.checks).to.deep.include({ redis: 'ok' });
}

export interface SignedIn {
  rp: RelyingParty;
  tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
  sub: string;
}

/** A full login of 王建国 through the emulator (consent, offline_access), checked down to userinfo. */
export async function signInThroughDingTalk(world: LoginWorld, rp?: RelyingParty): Promise<SignedIn> {
  const app = rp ?? (await registerRelyingParty(world));
  const { callback, request } = await loginViaDingTalk(world, new Browser(), app, USERS.admin, {
    scope: 'openid profile email phone roles dingtalk offline_access',
    prompt: 'consent',
  });
  const tokens = await exchangeCode(app, callback, request);
  const claims = tokens.claims()!;
  expect(claims.iss).to.equal(world.server.issuer);
  expect(claims.nonce).to.equal(request.nonce);
  expect(tokens.refresh_token).to.be.a('string');
  const info = await oidc.fetchUserInfo(app.config, tokens.access_token, claims.sub);
  expect(info).to.include({ sub: claims.sub, name: '王建国', dingtalk_union_id: USERS.admin });
  return { rp: app, tokens, sub: claims.sub };
}

/** Poll `check` every 50 ms until it holds; fails with the last value after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T>, accept: (value: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      last = await check();
      if (accept(last)) return last;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return expect.fail(
    `${what}: not within ${timeoutMs} ms; last: ${lastError instanceof Error ? String(lastError) : JSON.stringify(lastError ?? last)?.slice(0, 300)}`,
  );
}

/** No Redis error counted by the server (connection errors, rate limits counted in memory instead). */
export async function expectNoRedisErrors(base: string): Promise<void> {
  const metrics = await (await fetch(`${base}/metrics`)).text();
  expect(metrics.split('\n').filter((line) => /^redis_errors_total\{.*\} [1-9]/.test(line))).to.deep.equal([]);
}
