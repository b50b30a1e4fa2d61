import { expect } from 'chai';
import { allowListProblem, createAllowList, isSpecialUseAddress } from '../../../src/config/address-list.js';

describe('special-use addresses and OUTBOUND_ALLOWED_HOSTS', function () {
  it('counts loopback, private, link-local, metadata and mapped addresses as special-use', function () {
    for (const address of [
      '127.0.0.1',
      '10.1.2.3',
      '172.20.0.5',
      '192.168.1.1',
      '169.254.169.254',
      '100.100.100.200',
      '0.0.0.0',
      '::1',
      '::',
      '::ffff:10.0.0.1',
      '::ffff:127.0.0.1',
      'fd00:ec2::254',
      'fe80::1',
      'fc00::1',
    ]) {
      expect(isSpecialUseAddress(address), address).to.equal(true);
    }
  });

  it('does not count public addresses', function () {
    for (const address of ['8.8.8.8', '47.246.1.1', '203.119.1.1', '2001:4860:4860::8888', '2400:3200::1', '::ffff:8.8.8.8']) {
      expect(isSpecialUseAddress(address), address).to.equal(false);
    }
  });

  it('allows exact hosts, domains, addresses and CIDR ranges', function () {
    const allow = createAllowList(['grafana.corp', '.apps.corp', '10.20.0.0/16', 'fd12::/16', '192.168.1.9']);
    expect(allow.host('grafana.corp')).to.equal(true);
    expect(allow.host('wiki.apps.corp')).to.equal(true);
    expect(allow.host('evil-grafana.corp')).to.equal(false);
    expect(allow.address('10.20.3.4')).to.equal(true);
    expect(allow.address('10.21.3.4')).to.equal(false);
    expect(allow.address('::ffff:10.20.3.4')).to.equal(true);
    expect(allow.address('fd12:1::5')).to.equal(true);
    expect(allow.address('192.168.1.9')).to.equal(true);
    expect(allow.address('192.168.1.10')).to.equal(false);
  });

  it('reports entries that are neither host names, addresses nor CIDR ranges', function () {
    expect(allowListProblem(['grafana.corp', '10.0.0.0/8', '.apps.corp'])).to.equal(undefined);
    expect(allowListProblem(['10.0.0.0/33'])).to.match(/not a CIDR range/);
    expect(allowListProblem(['http://x'])).to.match(/not a host name/);
  });
});
