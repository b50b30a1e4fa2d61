import { Router } from '@koa/router';
import type { EmulatorState } from './state.js';

/**
 * Path of the stand-in for DingTalk's JSAPI script (`dingtalk.open.js`), the same path as on
 * DingTalk's CDN (g.alicdn.com), so only the origin differs from the URL the product pins.
 */
export const JSAPI_PATH = '/dingding/dingtalk-jsapi/3.0.25/dingtalk.open.js';
const JSAPI_ROUTE = '/dingding/dingtalk-jsapi/:version/dingtalk.open.js';

/**
 * The stand-in for DingTalk's in-app JSAPI (§4): what a page inside the DingTalk client gets from
 * `dingtalk.open.js`. It defines `dd.ready`, `dd.error`, `dd.env`,
 * `dd.runtime.permission.requestAuthCode({corpId, onSuccess, onFail})` (→ `onSuccess({code})`) and the
 * mini-program style `dd.getAuthCode({corpId, success, fail})` (→ `{authCode}`, also a promise), each
 * yielding a free-login code that `/topapi/v2/user/getuserinfo` accepts once, within 5 minutes.
 *
 * The person signed in to the "DingTalk client" is `state.clientUser` (default: the first active
 * member). The code is issued when the script is served and written into it (a page asks once); the
 * script is therefore never cached and cannot carry a Subresource Integrity hash. Like DingTalk's,
 * it only works inside the client: outside it (no `DingTalk`/`AliApp` in the user agent, §4), or for
 * another organisation's corpId, the calls fail through `onFail` / `fail` and `dd.error` handlers.
 */
export function createJsapiRouter(state: EmulatorState): Router {
  const router = new Router();
  router.get(JSAPI_ROUTE, (ctx) => {
    const user = state.clientUser();
    const code = user?.userid === undefined ? '' : state.issueFreeLoginCode(user.userid);
    ctx.set('Cache-Control', 'no-store');
    ctx.type = 'application/javascript; charset=utf-8';
    ctx.body = script({ corpId: state.corpId, code });
  });
  return router;
}

function script(values: { corpId: string; code: string }): string {
  // ES5 and no eval: it runs under the login page's CSP like DingTalk's own file.
  return `/* DingTalk JSAPI stand-in served by the DingTalk emulator (development and tests only). */
(function () {
  'use strict';
  var CORP_ID = ${JSON.stringify(values.corpId)};
  var CODE = ${JSON.stringify(values.code)};
  var ua = navigator.userAgent || '';
  var inClient = /dingtalk|aliapp/i.test(ua);
  var errorHandlers = [];
  function later(fn, value) { setTimeout(function () { fn(value); }, 0); }
  function problem() {
    if (!inClient) return { errorCode: '-1', errorMessage: 'not in DingTalk' };
    if (!CODE) return { errorCode: '-1', errorMessage: 'no user signed in to the DingTalk client' };
    return undefined;
  }
  function failed(error, callback) {
    if (typeof callback === 'function') later(callback, error);
    for (var i = 0; i < errorHandlers.length; i += 1) later(errorHandlers[i], error);
  }
  function checkCorp(corpId) {
    return corpId === CORP_ID ? undefined : { errorCode: '7', errorMessage: 'corpId ' + corpId + ' is not the organisation of this app' };
  }
  var dd = {
    version: '3.0.25',
    env: { platform: inClient ? (/iphone|ipad/i.test(ua) ? 'ios' : /android/i.test(ua) ? 'android' : 'pc') : 'notInDingTalk' },
    ready: function (fn) { if (inClient) later(fn); },
    error: function (fn) { errorHandlers.push(fn); if (!inClient) later(fn, problem()); },
    runtime: {
      permission: {
        requestAuthCode: function (options) {
          options = options || {};
          var error = problem() || checkCorp(options.corpId);
          if (error) return failed(error, options.onFail);
          if (typeof options.onSuccess === 'function') later(options.onSuccess, { code: CODE });
        }
      }
    },
    getAuthCode: function (options) {
      options = options || {};
      return new Promise(function (resolve, reject) {
        var error = problem() || checkCorp(options.corpId);
        if (error) { failed(error, options.fail); return reject(error); }
        if (typeof options.success === 'function') later(options.success, { authCode: CODE });
        resolve({ authCode: CODE });
      });
    }
  };
  window.dd = dd;
})();
`;
}
