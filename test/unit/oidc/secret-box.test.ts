import { expect } from 'chai';
import { createSecretBox, isBound } from '../../../src/oidc/secret-box.js';
import { sealV1 } from '../../helpers/sealed-v1.js';

describe('secret box', function () {
  const box = createSecretBox('s'.repeat(40), 'client-secrets');

  it('round-trips and never produces the same ciphertext twice', function () {
    const a = box.seal('hello', 'grafana');
    expect(box.open(a, 'grafana')).to.equal('hello');
    expect(box.seal('hello', 'grafana')).to.not.equal(a);
    expect(a).to.not.contain('hello');
    expect(isBound(a)).to.equal(true);
  });

  it('binds a value to its row: copied into another row it does not decrypt', function () {
    const sealed = box.seal('grafana-secret', 'grafana');
    expect(() => box.open(sealed, 'wiki')).to.throw(/cannot decrypt/);
  });

  it('still reads a value sealed before binding (v1)', function () {
    const legacy = sealV1('s'.repeat(40), 'client-secrets', 'old-secret');
    expect(isBound(legacy)).to.equal(false);
    expect(box.open(legacy, 'anything')).to.equal('old-secret');
  });

  it('refuses a value sealed under another secret or purpose', function () {
    const sealed = box.seal('x', 'row');
    expect(() => createSecretBox('t'.repeat(40), 'client-secrets').open(sealed, 'row')).to.throw(/KEY_ENCRYPTION_SECRET/);
    expect(() => createSecretBox('s'.repeat(40), 'signing-keys').open(sealed, 'row')).to.throw(/KEY_ENCRYPTION_SECRET/);
  });

  it('refuses tampered and malformed values without echoing them', function () {
    const sealed = box.seal('secret-value', 'row');
    const parts = sealed.split('.');
    parts[2] = Buffer.from('tampered').toString('base64url');
    expect(() => box.open(parts.join('.'), 'row')).to.throw(/cannot decrypt/);
    expect(() => box.open('garbage', 'row')).to.throw(/unknown format/);
  });
});
