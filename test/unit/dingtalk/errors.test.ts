import { expect } from 'chai';
import { UpstreamError } from '../../../src/errors/app-error.js';
import {
  isTimeoutError,
  mapApiError,
  mapOapiError,
  mapOapiHttpError,
  mapTransportError,
  type DingTalkErrorDetail,
} from '../../../src/dingtalk/errors.js';
import { apiErrorSchema, oapiEnvelopeSchema } from '../../../src/dingtalk/schemas.js';
import { apiErrors, oapiErrors, type ApiErrorFixture, type OapiFixture } from '../../fixtures/dingtalk/payloads.js';

const context = { operation: 'dingtalk.test' };

function fromApi(fixture: ApiErrorFixture, consumesCode = false): UpstreamError {
  const body = apiErrorSchema.parse(fixture.body);
  return mapApiError(fixture.status, body, { ...context, consumesCode }, fixture.body);
}

function fromOapi(fixture: OapiFixture): UpstreamError {
  return mapOapiError(oapiEnvelopeSchema.parse(fixture.body), context, fixture.body);
}

describe('dingtalk/errors', () => {
  describe('api.dingtalk.com {code, requestid, message}', () => {
    const cases: [keyof typeof apiErrors, string, boolean][] = [
      ['invalidAuthentication', 'dingtalk.invalid_token', false],
      ['missingTokenHeader', 'dingtalk.invalid_token', false],
      ['userTokenExpired', 'dingtalk.invalid_token', false],
      ['invalidClientIdOrSecret', 'dingtalk.invalid_client', false],
      ['missingBody', 'dingtalk.invalid_request', false],
      ['invalidParameterOnExchange', 'dingtalk.invalid_request', false],
      ['permissionDenied', 'dingtalk.permission_denied', false],
      ['ipNotInWhiteList', 'dingtalk.ip_not_allowed', false],
      ['qpsLimitForAppkeyAndApi', 'dingtalk.throttled', true],
      ['qpsLimitForApi', 'dingtalk.throttled', true],
      ['apiCountLimitForOrg', 'dingtalk.quota_exceeded', false],
      ['unknownError', 'dingtalk.unavailable', true],
    ];
    for (const [name, code, retryable] of cases) {
      it(`maps ${apiErrors[name].status} ${apiErrors[name].body.code} to ${code}`, () => {
        const error = fromApi(apiErrors[name]);
        expect(error).to.be.instanceOf(UpstreamError);
        expect(error.code).to.equal(code);
        expect(error.retryable).to.equal(retryable);
        expect(error.operation).to.equal('dingtalk.test');
      });
    }

    it('never puts the upstream message into ours, but keeps the raw body and request id on cause', () => {
      const fixture = apiErrors.permissionDenied;
      const error = fromApi(fixture);
      expect(error.message).not.to.include('权限');
      expect(error.expose).to.equal(false);
      const detail = error.cause as DingTalkErrorDetail;
      expect(detail.host).to.equal('api');
      expect(detail.httpStatus).to.equal(403);
      expect(detail.requestId).to.equal(fixture.body.requestid);
      expect(detail.body).to.deep.equal(fixture.body);
    });

    it('treats an unclassified 4xx of the code exchange as an invalid code', () => {
      expect(fromApi(apiErrors.invalidParameterOnExchange, true).code).to.equal('dingtalk.invalid_code');
      const reused = { source: 'emulator', status: 400, body: { code: 'invalidCode', requestid: 'X', message: '不合法的临时授权码' } };
      expect(fromApi(reused, true).code).to.equal('dingtalk.invalid_code');
    });

    it('keeps credential and throttling errors distinct during the code exchange', () => {
      expect(fromApi(apiErrors.invalidClientIdOrSecret, true).code).to.equal('dingtalk.invalid_client');
      expect(fromApi(apiErrors.qpsLimitForAppkeyAndApi, true).code).to.equal('dingtalk.throttled');
      expect(fromApi(apiErrors.missingBody, true).code).to.equal('dingtalk.invalid_request');
    });

    it('reads HTTP 429 as throttling, also during the code exchange (the code was not used)', () => {
      expect(mapApiError(429, undefined, { ...context, consumesCode: true }).code).to.equal('dingtalk.throttled');
      expect(mapApiError(429, undefined, context).code).to.equal('dingtalk.throttled');
    });

    it('maps a gateway 504 to dingtalk.timeout and a bodiless 502 to dingtalk.unavailable', () => {
      expect(mapApiError(504, undefined, context, '').code).to.equal('dingtalk.timeout');
      const unavailable = mapApiError(502, undefined, context, '<html>502</html>');
      expect(unavailable.code).to.equal('dingtalk.unavailable');
      expect(unavailable.retryable).to.equal(true);
    });

    it('maps an unknown code with a 4xx status to dingtalk.api_error', () => {
      const error = mapApiError(400, { code: 'SomethingNew', requestid: 'R', message: 'x' }, context);
      expect(error.code).to.equal('dingtalk.api_error');
      expect(error.retryable).to.equal(false);
    });

    it('parses the string code even when a gateway sends a number', () => {
      expect(apiErrorSchema.parse({ code: 404, message: 'x' }).code).to.equal('404');
    });
  });

  describe('oapi.dingtalk.com {errcode, errmsg, sub_code, sub_msg}', () => {
    const cases: [keyof typeof oapiErrors, string, boolean][] = [
      ['invalidToken88', 'dingtalk.invalid_token', false],
      ['blankToken88', 'dingtalk.invalid_token', false],
      ['bareInvalidToken', 'dingtalk.invalid_token', false],
      ['tokenExpired', 'dingtalk.invalid_token', false],
      ['banned88', 'dingtalk.throttled', true],
      ['busy', 'dingtalk.unavailable', true],
      ['remoteTimeout', 'dingtalk.timeout', true],
      ['userNotFound', 'dingtalk.user_not_found', false],
      ['departmentNotFound', 'dingtalk.department_not_found', false],
      ['freeLoginCodeUnknown', 'dingtalk.invalid_code', false],
      ['noPermission', 'dingtalk.permission_denied', false],
      ['ipNotAllowed', 'dingtalk.ip_not_allowed', false],
      ['qpsLimit90018', 'dingtalk.throttled', true],
      ['qpsLimit90002', 'dingtalk.throttled', true],
      ['monthlyQuota90020', 'dingtalk.quota_exceeded', false],
      ['invalidParameter', 'dingtalk.invalid_request', false],
      ['missingParameter', 'dingtalk.invalid_request', false],
      ['badAppKey', 'dingtalk.invalid_client', false],
      ['badCorpSecret', 'dingtalk.invalid_client', false],
      ['unknownApiName', 'dingtalk.api_error', false],
    ];
    for (const [name, code, retryable] of cases) {
      const body = oapiErrors[name].body;
      const label =
        body.sub_code === undefined ? `errcode ${body.errcode}` : `errcode ${body.errcode}/sub_code ${JSON.stringify(body.sub_code)}`;
      it(`maps ${label} (${name}) to ${code}`, () => {
        const error = fromOapi(oapiErrors[name]);
        expect(error.code).to.equal(code);
        expect(error.retryable).to.equal(retryable);
      });
    }

    it('reads the 88 sub_code as a string, also when a proxy turned it into a number', () => {
      const envelope = oapiEnvelopeSchema.parse({ errcode: 88, sub_code: 40014, sub_msg: 'x' });
      expect(envelope.sub_code).to.equal('40014');
      expect(mapOapiError(envelope, context).code).to.equal('dingtalk.invalid_token');
    });

    it('keeps the request id and raw payload on cause, not in the message', () => {
      const error = fromOapi(oapiErrors.userNotFound);
      expect(error.message).not.to.include('找不到');
      const detail = error.cause as DingTalkErrorDetail;
      expect(detail).to.include({ host: 'oapi', httpStatus: 200, requestId: 'd4e5f6g7h8i9j' });
      expect(detail.body).to.deep.equal(oapiErrors.userNotFound.body);
    });

    it('maps a non-200 from the oapi gateway by status', () => {
      expect(mapOapiHttpError(502, '<html/>', context).code).to.equal('dingtalk.unavailable');
      expect(mapOapiHttpError(504, '', context).code).to.equal('dingtalk.timeout');
      expect(mapOapiHttpError(404, '', context).code).to.equal('dingtalk.bad_response');
    });
  });

  describe('transport failures', () => {
    it('maps an AbortSignal timeout and undici timeouts to dingtalk.timeout', () => {
      const abort = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
      const headers = Object.assign(new Error('Headers Timeout Error'), { code: 'UND_ERR_HEADERS_TIMEOUT' });
      const body = Object.assign(new Error('Body Timeout Error'), { code: 'UND_ERR_BODY_TIMEOUT' });
      for (const cause of [abort, headers, body]) {
        expect(isTimeoutError(cause)).to.equal(true);
        const error = mapTransportError(cause, context);
        expect(error.code).to.equal('dingtalk.timeout');
        expect(error.status).to.equal(504);
        expect(error.cause).to.equal(cause);
      }
    });

    it('maps a refused or reset connection to dingtalk.unavailable', () => {
      const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      const error = mapTransportError(refused, context);
      expect(error.code).to.equal('dingtalk.unavailable');
      expect(error.retryable).to.equal(true);
    });
  });
});
