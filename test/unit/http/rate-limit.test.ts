import { expect } from 'chai';
import type { Context } from 'koa';
import { basicClientId, ipKey, tooManyRequests } from '../../../src/http/middleware/rate-limit.js';
import { contentSecurityPolicy } from '../../../src/http/middleware/security-headers.js';

const basic = (userinfo: string): string => `Basic ${Buffer.from(userinfo).toString('base64')}`;

describe('rate limit keys', function () {
  it('counts IPv4 addresses as they are, and IPv6 addresses by their /64', function () {
    expect(ipKey('203.0.113.7')).to.equal('203.0.113.7');
    expect(ipKey('::ffff:203.0.113.7')).to.equal('203.0.113.7');
    expect(ipKey('2001:db8:85a3:8d3:1319:8a2e:370:7348')).to.equal('2001:db8:85a3:8d3::/64');
    expect(ipKey('2001:db8:85a3:08d3::1')).to.equal('2001:db8:85a3:8d3::/64');
    expect(ipKey('2001:db8::1')).to.equal('2001:db8:0:0::/64');
    expect(ipKey('::1')).to.equal('0:0:0:0::/64');
    expect(ipKey('fe80::1%eth0')).to.equal('fe80:0:0:0::/64');
  });

  it('reads the client id of a Basic header (form-encoded, RFC 6749 §2.3.1) and nothing else', function () {
    expect(basicClientId(basic('grafana:s3cret'))).to.equal('grafana');
    expect(basicClientId(basic('my%2Fapp:x'))).to.equal('my/app');
    expect(basicClientId(basic('a+b:x'))).to.match(/^#/); // "a b": a space, so keyed by a digest
    expect(basicClientId(`basic ${Buffer.from('lower:x').toString('base64')}`)).to.equal('lower');
    expect(basicClientId(basic(':nouser'))).to.equal(undefined);
    expect(basicClientId(basic('nocolon'))).to.equal(undefined);
    expect(basicClientId(basic('bad%zz:x'))).to.equal(undefined);
    expect(basicClientId('Bearer abc.def')).to.equal(undefined);
    expect(basicClientId('')).to.equal(undefined);
    expect(basicClientId(basic(`${'x'.repeat(500)}:y`))).to.match(/^#[A-Za-z0-9_-]{32}$/);
  });

  it('answers API clients 429 with Retry-After and temporarily_unavailable', function () {
    const headers: Record<string, string> = {};
    const ctx = { set: (name: string, value: string) => void (headers[name] = value) } as unknown as Context;
    tooManyRequests(ctx, 1_200);
    expect(ctx.status).to.equal(429);
    expect(headers['Retry-After']).to.equal('2');
    expect(ctx.body).to.deep.include({ error: 'temporarily_unavailable' });
  });
});

describe('content security policy', function () {
  it('puts the nonce in script-src, right after self', function () {
    const { before, after } = contentSecurityPolicy({ https: false });
    const csp = `${before}abc${after}`;
    expect(csp).to.contain("script-src 'self' 'nonce-abc';");
    expect(csp).to.contain("frame-ancestors 'none'");
    expect(csp).to.not.contain('upgrade-insecure-requests');
    expect(`${before}abc${contentSecurityPolicy({ https: true }).after}`).to.match(/;upgrade-insecure-requests$/);
  });
});
