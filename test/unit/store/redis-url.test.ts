import { expect } from 'chai';

import { ConfigError } from '../../../src/errors/app-error.js';
import { parseRedisUrl } from '../../../src/store/redis.js';

describe('parseRedisUrl', function () {
  it('reads a single server with defaults', function () {
    expect(parseRedisUrl('redis://localhost')).to.deep.equal({
      kind: 'single',
      tls: false,
      host: 'localhost',
      port: 6379,
      db: 0,
    });
  });

  it('reads port, database number and %-encoded credentials', function () {
    expect(parseRedisUrl('redis://app:p%40ss%2Fw0rd@10.0.0.5:6380/3')).to.deep.equal({
      kind: 'single',
      tls: false,
      username: 'app',
      password: 'p@ss/w0rd',
      host: '10.0.0.5',
      port: 6380,
      db: 3,
    });
  });

  it('reads a password without a user name, and TLS from rediss://', function () {
    expect(parseRedisUrl('rediss://:secret@cache.example.com:6390/')).to.deep.equal({
      kind: 'single',
      tls: true,
      password: 'secret',
      host: 'cache.example.com',
      port: 6390,
      db: 0,
    });
  });

  it('reads a bracketed IPv6 host', function () {
    expect(parseRedisUrl('redis://[::1]:6379/2')).to.include({ host: '::1', port: 6379, db: 2 });
  });

  it('reads Sentinels, the master name and the database number', function () {
    expect(parseRedisUrl('redis-sentinel://:pw@s1:26379,s2,[fe80::1]:26380/mymaster/5')).to.deep.equal({
      kind: 'sentinel',
      tls: false,
      password: 'pw',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26379 },
        { host: 'fe80::1', port: 26380 },
      ],
      name: 'mymaster',
      db: 5,
    });
  });

  it('defaults the Sentinel database to 0 and reads rediss-sentinel:// as TLS', function () {
    expect(parseRedisUrl('rediss-sentinel://s1/mymaster')).to.include({ kind: 'sentinel', tls: true, name: 'mymaster', db: 0 });
  });

  it('reads Cluster seed nodes, with TLS from rediss-cluster://', function () {
    expect(parseRedisUrl('redis-cluster://n1:7000,n2:7001')).to.deep.equal({
      kind: 'cluster',
      tls: false,
      nodes: [
        { host: 'n1', port: 7000 },
        { host: 'n2', port: 7001 },
      ],
    });
    expect(parseRedisUrl('rediss-cluster://user:pw@n1')).to.deep.equal({
      kind: 'cluster',
      tls: true,
      username: 'user',
      password: 'pw',
      nodes: [{ host: 'n1', port: 6379 }],
    });
  });

  it('accepts an upper-case scheme', function () {
    expect(parseRedisUrl('REDIS://h')).to.include({ kind: 'single', host: 'h' });
  });

  const invalid: Array<[string, string, RegExp]> = [
    ['an empty string', '', /is not a URL/],
    ['garbage', 'not a url', /is not a URL/],
    ['another scheme', 'http://localhost:6379', /must start with redis:\/\//],
    ['no host', 'redis://', /has no host/],
    ['several hosts on redis://', 'redis://a,b', /lists several hosts/],
    ['a port out of range', 'redis://h:70000', /invalid port "70000"/],
    ['a non-numeric port', 'redis://h:abc', /invalid host "h:abc"/],
    ['a non-numeric database', 'redis://h/abc', /invalid database number "abc"/],
    ['a path beyond the database', 'redis://h/1/2', /path other than \/<db>/],
    ['a Sentinel URL without master name', 'redis-sentinel://s1:26379', /master name/],
    ['a Sentinel URL with extra path', 'redis-sentinel://s1/m/1/x', /path other than \/<masterName>\[\/db\]/],
    ['a Cluster URL with a database', 'redis-cluster://n1/1', /only database 0/],
    ['a query string', 'redis://h?db=1', /query string/],
    ['a malformed escape', 'redis://:%zz@h', /malformed %-escape/],
  ];
  for (const [what, url, message] of invalid) {
    it(`rejects ${what} with an error naming REDIS_URL`, function () {
      expect(() => parseRedisUrl(url))
        .to.throw(ConfigError, /REDIS_URL/)
        .with.property('message')
        .that.matches(message);
    });
  }

  it('never puts the password in the error message', function () {
    expect(() => parseRedisUrl('redis://user:hunter2@h:99999'))
      .to.throw(ConfigError)
      .with.property('message')
      .that.does.not.include('hunter2');
  });
});
