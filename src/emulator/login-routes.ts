import { Router } from '@koa/router';
import type { Context } from 'koa';
import { readRawBody } from './http.js';
import { pickLanguage, renderLoginError, renderPicker, type LoginProblem } from './login-page.js';
import type { EmulatorState } from './state.js';

/** A query parameter that carries the login code on the callback (§1.2). */
export type CallbackCodeParam = 'authCode' | 'code';

interface AuthorizeRequest {
  redirectUri: URL;
  scope: string;
  state: string | undefined;
  hidden: Record<string, string>;
}

/** People listed on the picker at most. */
const PICKER_LIMIT = 60;

const PASSED_THROUGH = ['client_id', 'redirect_uri', 'response_type', 'scope', 'state', 'prompt', 'corpId', 'org_type'];

/**
 * Routes of the emulated login.dingtalk.com `/oauth2/auth` (§1.1, §1.2). GET validates the request and
 * shows a user picker; the picker POSTs back here. Choosing a person redirects to
 * `redirect_uri?authCode=…&code=…&state=…` (both names, as DingTalk is observed to send; or only one,
 * `callbackCodeParams`); Deny
 * redirects with `error=access_denied`. A malformed request gets a readable 400 page, never a
 * redirect (the redirect URI is not trustworthy until validated).
 */
export function createLoginRouter(
  state: EmulatorState,
  options: { publicBaseUrl?: string; callbackCodeParams?: readonly CallbackCodeParam[] },
): Router {
  const codeParams = options.callbackCodeParams ?? ['authCode', 'code'];
  const router = new Router();

  function validate(params: URLSearchParams): { ok: true; request: AuthorizeRequest } | { ok: false; problems: LoginProblem[] } {
    const problems: LoginProblem[] = [];
    const clientId = params.get('client_id') ?? '';
    if (clientId === '') problems.push({ 'zh-CN': '缺少参数 client_id', en: 'client_id is missing' });
    else if (clientId !== state.clientId)
      problems.push({ 'zh-CN': 'client_id 无效：找不到该应用', en: 'client_id is not a known application' });

    const rawRedirect = params.get('redirect_uri') ?? '';
    let redirectUri: URL | undefined;
    if (rawRedirect === '') {
      problems.push({ 'zh-CN': '缺少参数 redirect_uri', en: 'redirect_uri is missing' });
    } else {
      redirectUri = URL.canParse(rawRedirect) ? new URL(rawRedirect) : undefined;
      if (redirectUri === undefined || (redirectUri.protocol !== 'http:' && redirectUri.protocol !== 'https:')) {
        problems.push({ 'zh-CN': 'redirect_uri 不是合法的 http(s) 地址', en: 'redirect_uri is not an http(s) URL' });
        redirectUri = undefined;
      } else if (state.redirectUris.length > 0 && !state.redirectUris.includes(rawRedirect)) {
        problems.push({
          'zh-CN': 'redirect_uri 与应用登记的回调地址不一致',
          en: "redirect_uri does not match the application's registered redirect URLs",
        });
      }
    }

    if (params.get('response_type') !== 'code') {
      problems.push({ 'zh-CN': 'response_type 必须为 code', en: 'response_type must be code' });
    }
    const scope = params.get('scope') ?? '';
    if (!scope.split(/\s+/).includes('openid')) {
      problems.push({ 'zh-CN': 'scope 必须包含 openid', en: 'scope must include openid' });
    }
    // DingTalk requires prompt=consent; without it the login fails (CASDOOR-1629).
    if (params.get('prompt') !== 'consent') {
      problems.push({ 'zh-CN': 'prompt 必须为 consent', en: 'prompt must be consent' });
    }
    if (problems.length > 0 || redirectUri === undefined) return { ok: false, problems };

    const hidden: Record<string, string> = {};
    for (const name of PASSED_THROUGH) {
      const value = params.get(name);
      if (value !== null) hidden[name] = value;
    }
    return { ok: true, request: { redirectUri, scope, state: params.get('state') ?? undefined, hidden } };
  }

  function showError(ctx: Context, problems: LoginProblem[]): void {
    ctx.status = 400;
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = renderLoginError(pickLanguage(ctx.get('accept-language')), problems);
  }

  router.get('/oauth2/auth', (ctx) => {
    const params = new URLSearchParams(ctx.querystring);
    const checked = validate(params);
    if (!checked.ok) return showError(ctx, checked.problems);
    // Relative unless a public base URL is configured, so the form also works behind a proxy.
    const base = options.publicBaseUrl ?? '';
    ctx.type = 'text/html; charset=utf-8';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = renderPicker({
      lang: pickLanguage(ctx.get('accept-language')),
      action: `${base.replace(/\/+$/, '')}/oauth2/auth`,
      hidden: checked.request.hidden,
      // A generated organisation has thousands: the page lists the first ones (the bundled seed's).
      users: state.users().slice(0, PICKER_LIMIT),
      notListed: Math.max(0, state.users().length - PICKER_LIMIT),
      appName: state.clientId,
      corpName: state.corpName,
      departmentName: (id) => state.department(id)?.name,
    });
  });

  router.post('/oauth2/auth', async (ctx) => {
    const form = new URLSearchParams(await readRawBody(ctx));
    const checked = validate(form);
    if (!checked.ok) return showError(ctx, checked.problems);
    const { redirectUri, scope, state: echoed } = checked.request;
    const target = new URL(redirectUri);

    if (form.get('decision') === 'deny') {
      target.searchParams.set('error', 'access_denied');
    } else {
      const unionid = form.get('unionId') ?? '';
      if (state.findByUnionId(unionid) === undefined) {
        return showError(ctx, [{ 'zh-CN': '请选择一个帐号', en: 'Choose an account' }]);
      }
      const code = state.issueAuthCode({ unionid, scope, clientId: state.clientId });
      // `authCode` is the documented name; `code` carries the same value (§1.2, observed). Which of
      // the two arrive is an option, so a test can check that a client reads either.
      for (const name of codeParams) target.searchParams.set(name, code);
    }
    if (echoed !== undefined) target.searchParams.set('state', echoed);
    ctx.redirect(target.toString());
  });

  return router;
}
