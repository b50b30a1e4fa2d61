import { expect } from 'chai';
import { decryptEvent, encryptEvent, signEvent } from '../../../src/emulator/event-crypto.js';
import { eventFixtures } from '../../fixtures/dingtalk/payloads.js';

// The emulator's own §5.1 crypto (it shares no code with src/dingtalk), checked against the reference
// vector dingtalk-api.md quotes from DingTalk's DingCallbackCrypto3.py.
const vector = eventFixtures.referenceVector;
const subscription = { token: vector.token, aesKey: vector.aesKey, ownerKey: vector.ownerKey };

describe('emulator/event-crypto (§5.1)', () => {
  it('signs the reference vector to its documented signature', () => {
    expect(signEvent(subscription, vector.timestamp, vector.nonce, vector.encrypt)).to.equal(vector.signature);
  });

  it('decrypts the reference vector to its documented plaintext', () => {
    expect(decryptEvent(subscription, vector.encrypt)).to.equal(vector.plaintext);
  });

  it('encrypts with a 16-character prefix, a big-endian length and the owner key, padded to 32 bytes', () => {
    const encrypted = encryptEvent(subscription, vector.plaintext, 'ABCDEFGHIJKLMNOP');
    // 16 + 4 + 25 + 20 = 65 bytes → padded to 96.
    expect(Buffer.from(encrypted, 'base64')).to.have.length(96);
    expect(decryptEvent(subscription, encrypted)).to.equal(vector.plaintext);
  });

  it('pads an already aligned plaintext with one full block of 32', () => {
    const message = 'x'.repeat(64 - 16 - 4 - subscription.ownerKey.length); // exactly 64 bytes before padding
    expect(Buffer.from(encryptEvent(subscription, message), 'base64')).to.have.length(96);
  });

  it('reads nothing from a message sealed for another owner key, or from garbage', () => {
    const forOther = encryptEvent({ ...subscription, ownerKey: 'dingotherapp' }, 'success');
    expect(decryptEvent(subscription, forOther)).to.equal(undefined);
    expect(decryptEvent(subscription, 'bm90IGJsb2Nrcw==')).to.equal(undefined);
    expect(decryptEvent(subscription, '')).to.equal(undefined);
  });

  it('refuses an EncodingAESKey that is not 43 characters', () => {
    expect(() => encryptEvent({ ...subscription, aesKey: 'short' }, 'x')).to.throw(/43/);
  });
});
