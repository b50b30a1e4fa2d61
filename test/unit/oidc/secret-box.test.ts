import { expect } from 'chai';
import { createSecretBox } from '../../../src/oidc/secret-box.js';

describe('secret box', function () {
  const box = createSecretBox('s'.repeat(40), 'client-secrets');

  it('round-trips and never produces the same ciphertext twice', function () {
    const a = box.seal('hello');
    expect(box.open(a)).to.equal('hello');
    expect(box.seal('hello')).to.not.equal(a);
    expect(a).to.not.contain('hello');
  });

  it('refuses a value sealed under another secret or purpose', function () {
    const sealed = box.seal('x');
    expect(() => createSecretBox('t'.repeat(40), 'client-secrets').open(sealed)).to.throw(/KEY_ENCRYPTION_SECRET/);
    expect(() => createSecretBox('s'.repeat(40), 'signing-keys').open(sealed)).to.throw(/KEY_ENCRYPTION_SECRET/);
  });

  it('refuses tampered and malformed values without echoing them', function () {
    const sealed = box.seal('secret-value');
    const parts = sealed.split('.');
    parts[2] = Buffer.from('tampered').toString('base64url');
    expect(() => box.open(parts.join('.'))).to.throw(/cannot decrypt/);
    expect(() => box.open('garbage')).to.throw(/unknown format/);
  });
});
