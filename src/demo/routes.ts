/**
 * A tiny relying party built into development mode, so a new user sees the whole flow:
 *
 *   /demo → /demo/login → issuer /auth → interaction → /demo/callback → /demo/logout → /session/end
 *
 * It talks to the issuer the way any application would: over HTTP, through discovery, with
 * openid-client (code flow, PKCE S256, state, nonce, client_secret_basic). Its only state is one
 * signed, HttpOnly cookie scoped to /demo: the login transaction, then the ID token kept for
 * logout. Every failure becomes a page with a code and "Try again", never a stack trace.
 */
import Router from '@koa/router';
import type { Context } from 'koa';
import * as oidc from 'openid-client';
import type { Locale } from '../errors/messages.js';
import type { PageRenderer } from '../ui/pages.js';
import type { Logger } from '../log.js';
import { demoErrorText, demoText } from './messages.js';

export interface DemoRouterOptions {
  /** The issuer this provider runs as; the demo reaches it over HTTP like any other application. */
  issuer: string;
  /** A confidential client registered with `${issuer}/demo/callback` and `${issuer}/demo`. */
  clientId: string;
  clientSecret: string;
  /** The app's `keys`: the demo cookie is signed with `ctx.cookies`, so they must be set on the app. */
  cookieKeys: readonly string[];
  pages: PageRenderer;
  /** Failures are logged here (4xx at info, 5xx at warn); nothing is logged without it. */
  logger?: Pick<Logger, 'info' | 'warn'>;
  /** Timeout for each call to the issuer (discovery, token, userinfo, JWKS). Default 10 s. */
  timeoutSeconds?: number;
}

export const DEMO_SCOPE = 'openid profile email phone roles dingtalk offline_access';
export const DEMO_COOKIE = 'demo_rp';
const LOGIN_TTL_MS = 10 * 60 * 1000;
// The ID token is only a hint for logout; oidc-provider accepts an expired one there.
const SESSION_TTL_MS = 60 * 60 * 1000;

type DemoState = { kind: 'login'; verifier: string; state: string; nonce: string } | { kind: 'session'; idToken: string };

interface Failure {
  status: number;
  code: string;
}

/**
 * The demo's routes: `GET /demo`, `/demo/login`, `/demo/callback`, `/demo/logout`. Mount them
 * before oidc-provider, on an app whose `keys` are `cookieKeys`.
 */
export function createDemoRouter(options: DemoRouterOptions): Router {
  const { clientId, clientSecret, pages, logger } = options;
  if (options.cookieKeys.length === 0) throw new Error('createDemoRouter: cookieKeys must not be empty');
  const issuer = options.issuer.replace(/\/+$/, '');
  const https = new URL(issuer).protocol === 'https:';
  const redirectUri = `${issuer}/demo/callback`;
  const postLogoutRedirectUri = `${issuer}/demo`;
  const timeout = options.timeoutSeconds ?? 10;

  let discovered: Promise<oidc.Configuration> | undefined;
  /** Discovery once; a failure is forgotten so the next request tries again. */
  function configuration(): Promise<oidc.Configuration> {
    discovered ??= oidc
      .discovery(new URL(options.issuer), clientId, clientSecret, oidc.ClientSecretBasic(clientSecret), {
        timeout,
        // Non-repudiation: the ID token's signature is checked against the issuer's JWKS too,
        // not only its claims, so the demo shows a full verification.
        execute: [oidc.enableNonRepudiationChecks, ...(https ? [] : [oidc.allowInsecureRequests])],
      })
      .catch((error: unknown) => {
        discovered = undefined;
        throw error;
      });
    return discovered;
  }

  const localeOf = (ctx: Context): Locale => pages.localeOf(ctx.get('accept-language'));

  function show(ctx: Context, status: number, view: string, locale: Locale, data: Record<string, unknown>): void {
    ctx.status = status;
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = pages.render(view, locale, { d: demoText(locale), ...data });
  }

  function fail(ctx: Context, locale: Locale, failure: Failure, error?: unknown): void {
    if (failure.status >= 500) logger?.warn({ err: error, code: failure.code, path: ctx.path }, 'demo sign-in failed');
    else logger?.info({ code: failure.code, path: ctx.path }, 'demo sign-in rejected');
    show(ctx, failure.status, 'demo/error', locale, {
      title: demoText(locale).errorTitle,
      code: failure.code,
      message: demoErrorText(locale, failure.code),
    });
  }

  const cookieOptions = {
    signed: true,
    httpOnly: true,
    sameSite: 'lax',
    path: '/demo',
    secure: https,
    overwrite: true,
  } as const;

  function writeState(ctx: Context, value: DemoState | null): void {
    // Behind a TLS-terminating proxy Koa may think the request is plain HTTP and refuse a Secure
    // cookie; an https issuer means the browser is on https, so the cookie may be Secure.
    if (https) ctx.cookies.secure = true;
    if (value === null) {
      ctx.cookies.set(DEMO_COOKIE, null, cookieOptions);
      return;
    }
    const maxAge = value.kind === 'login' ? LOGIN_TTL_MS : SESSION_TTL_MS;
    ctx.cookies.set(DEMO_COOKIE, Buffer.from(JSON.stringify(value)).toString('base64url'), { ...cookieOptions, maxAge });
  }

  const router = new Router();

  router.get('/demo', (ctx) => {
    const locale = localeOf(ctx);
    show(ctx, 200, 'demo/index', locale, { title: demoText(locale).title, clientId, redirectUri });
  });

  router.get('/demo/login', async (ctx) => {
    const locale = localeOf(ctx);
    let config: oidc.Configuration;
    try {
      config = await configuration();
    } catch (error) {
      fail(ctx, locale, classify(error), error);
      return;
    }
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: DEMO_SCOPE,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    writeState(ctx, { kind: 'login', verifier, state, nonce });
    ctx.set('Cache-Control', 'no-store');
    ctx.redirect(url.href);
  });

  router.get('/demo/callback', async (ctx) => {
    const locale = localeOf(ctx);
    const saved = readState(ctx);
    if (saved?.kind !== 'login') {
      fail(ctx, locale, { status: 400, code: 'demo.session_expired' });
      return;
    }
    // The transaction is single-use, whatever the outcome.
    writeState(ctx, null);
    const returned = new URLSearchParams(ctx.querystring).getAll('state');
    if (returned.length !== 1 || returned[0] !== saved.state) {
      fail(ctx, locale, { status: 400, code: 'demo.state_mismatch' });
      return;
    }
    try {
      const config = await configuration();
      // Built from the issuer, not from Host, so redirect_uri matches the registered one exactly.
      const currentUrl = new URL(redirectUri);
      currentUrl.search = ctx.querystring;
      const tokens = await oidc.authorizationCodeGrant(config, currentUrl, {
        pkceCodeVerifier: saved.verifier,
        expectedState: saved.state,
        expectedNonce: saved.nonce,
        idTokenExpected: true,
      });
      const claims = tokens.claims();
      // expectedNonce makes openid-client require an ID token; this only narrows the types.
      if (!claims || !tokens.id_token) {
        fail(ctx, locale, { status: 400, code: 'demo.check_failed' });
        return;
      }
      const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
      writeState(ctx, { kind: 'session', idToken: tokens.id_token });

      const t = demoText(locale);
      const now = Date.now();
      const expiresIn = tokens.expiresIn();
      show(ctx, 200, 'demo/result', locale, {
        title: t.resultTitle,
        tokens: [
          { name: t.idToken, received: true, expiresAt: isoTime(claims.exp * 1000) },
          {
            name: `${t.accessToken} (${tokens.token_type})`,
            received: true,
            expiresAt: expiresIn === undefined ? undefined : isoTime(now + expiresIn * 1000),
          },
          { name: t.refreshToken, received: Boolean(tokens.refresh_token) },
        ],
        refreshMissing: !tokens.refresh_token,
        scope: tokens.scope ?? '',
        claimsJson: JSON.stringify(claims, null, 2),
        userinfoJson: JSON.stringify(userinfo, null, 2),
      });
    } catch (error) {
      fail(ctx, locale, classify(error, true), error);
    }
  });

  router.get('/demo/logout', async (ctx) => {
    const locale = localeOf(ctx);
    let config: oidc.Configuration;
    try {
      config = await configuration();
    } catch (error) {
      fail(ctx, locale, classify(error), error);
      return;
    }
    const saved = readState(ctx);
    const parameters: Record<string, string> = {
      post_logout_redirect_uri: postLogoutRedirectUri,
      client_id: clientId,
    };
    if (saved?.kind === 'session') parameters.id_token_hint = saved.idToken;
    let url: URL;
    try {
      url = oidc.buildEndSessionUrl(config, parameters);
    } catch (error) {
      fail(ctx, locale, classify(error), error);
      return;
    }
    writeState(ctx, null);
    ctx.set('Cache-Control', 'no-store');
    ctx.redirect(url.href);
  });

  return router;
}

function readState(ctx: Context): DemoState | undefined {
  // A missing, unsigned or tampered cookie reads as undefined.
  const raw = ctx.cookies.get(DEMO_COOKIE, { signed: true });
  if (!raw) return undefined;
  try {
    const value = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (
      value.kind === 'login' &&
      typeof value.verifier === 'string' &&
      typeof value.state === 'string' &&
      typeof value.nonce === 'string'
    ) {
      return { kind: 'login', verifier: value.verifier, state: value.state, nonce: value.nonce };
    }
    if (value.kind === 'session' && typeof value.idToken === 'string') {
      return { kind: 'session', idToken: value.idToken };
    }
  } catch {
    // fall through: unreadable is the same as absent
  }
  return undefined;
}

// Codes the provider may send are shown as they are; anything else is not ours to echo.
const OAUTH_CODE = /^[a-z0-9_]{1,64}$/;
// oauth4webapi's codes for a response that arrived but failed a check (state, iss, nonce, PKCE,
// ID token claims or signature).
const CHECK_FAILURES = new Set([
  'OAUTH_INVALID_RESPONSE',
  'OAUTH_JWT_CLAIM_COMPARISON_FAILED',
  'OAUTH_JWT_TIMESTAMP_CHECK_FAILED',
  'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED',
  'OAUTH_KEY_SELECTION_FAILED',
]);

/**
 * openid-client error → status and code for the page. Never a 500: the demo only fails at the
 * issuer. `callback` says whether a failed check is about the response the browser brought back
 * (400) rather than about the issuer's own answer, e.g. its discovery document (502).
 */
function classify(error: unknown, callback = false): Failure {
  if (error instanceof oidc.AuthorizationResponseError) {
    return { status: 400, code: OAUTH_CODE.test(error.error) ? error.error : 'demo.invalid_response' };
  }
  if (error instanceof oidc.ResponseBodyError) {
    // invalid_grant: the code the browser brought is used, expired or not ours. Anything else
    // (invalid_client, server_error) is the issuer refusing the demo itself.
    const status = error.error === 'invalid_grant' ? 400 : 502;
    return { status, code: OAUTH_CODE.test(error.error) ? error.error : 'demo.invalid_response' };
  }
  if (error instanceof oidc.ClientError) {
    if (error.code === 'OAUTH_TIMEOUT') return { status: 504, code: 'demo.timeout' };
    if (callback && error.code !== undefined && CHECK_FAILURES.has(error.code)) return { status: 400, code: 'demo.check_failed' };
    return { status: 502, code: 'demo.invalid_response' };
  }
  if (error instanceof oidc.WWWAuthenticateChallengeError) return { status: 502, code: 'demo.invalid_response' };
  // fetch() rejects with a TypeError ("fetch failed") when it cannot connect.
  return { status: 502, code: 'demo.issuer_unreachable' };
}

function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
