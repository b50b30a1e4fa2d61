import { expect } from 'chai';
import { AppError, ConfigError } from '../../../src/errors/app-error.js';
import { createEventCrypto } from '../../../src/dingtalk/event-crypto.js';
import { eventFixtures } from '../../fixtures/dingtalk/payloads.js';

const vector = eventFixtures.referenceVector;
const crypto = createEventCrypto({ token: vector.token, aesKey: vector.aesKey, ownerKey: vector.ownerKey });

describe('dingtalk/event-crypto', () => {
  describe('reference vector (dingtalk-api.md §5.1, CRYPTO-PY)', () => {
    it('computes the documented signature', () => {
      expect(crypto.sign(vector.timestamp, vector.nonce, vector.encrypt)).to.equal(vector.signature);
    });

    it('verifies the documented signature and rejects a changed one', () => {
      expect(crypto.verify(vector.signature, vector.timestamp, vector.nonce, vector.encrypt)).to.equal(true);
      expect(crypto.verify(vector.signature.toUpperCase(), vector.timestamp, vector.nonce, vector.encrypt)).to.equal(true);
      expect(crypto.verify(vector.signature, '1608001896815', vector.nonce, vector.encrypt)).to.equal(false);
      expect(crypto.verify('', vector.timestamp, vector.nonce, vector.encrypt)).to.equal(false);
    });

    it('decrypts the documented ciphertext to exactly {"EventType":"check_url"}', () => {
      expect(crypto.decrypt(vector.encrypt)).to.equal(vector.plaintext);
    });

    it('opens the signed event in one step', () => {
      const plaintext = crypto.open({
        signature: vector.signature,
        timestamp: vector.timestamp,
        nonce: vector.nonce,
        encrypt: vector.encrypt,
      });
      expect(JSON.parse(plaintext)).to.deep.equal({ EventType: 'check_url' });
    });
  });

  it('round-trips UTF-8 messages of every length through 32-byte padding', () => {
    for (let length = 0; length < 70; length += 1) {
      const message = '离'.repeat(length % 5) + 'x'.repeat(length);
      const encrypted = crypto.encrypt(message);
      // 16 random + 4 length + message + owner key, padded to a multiple of 32 bytes (never 0 padding).
      const plainLength = 20 + Buffer.byteLength(message) + Buffer.byteLength(vector.ownerKey);
      const expected = (Math.floor(plainLength / 32) + 1) * 32;
      expect(Buffer.from(encrypted, 'base64').length).to.equal(expected);
      expect(crypto.decrypt(encrypted)).to.equal(message);
    }
  });

  it('reproduces the reference ciphertext from its own random prefix', () => {
    expect(crypto.encrypt(vector.plaintext, 'l7Y3EcX2CU5w8av3')).to.equal(vector.encrypt);
  });

  it('rejects a ciphertext made for another owner key (e.g. corpId instead of the AppKey)', () => {
    const other = createEventCrypto({ token: vector.token, aesKey: vector.aesKey, ownerKey: 'dingOtherAppKey' });
    expect(() => crypto.decrypt(other.encrypt('{"EventType":"user_leave_org"}')))
      .to.throw(AppError)
      .with.property('code', 'dingtalk.event_invalid_payload');
  });

  it('rejects garbage without leaking crypto errors', () => {
    for (const garbage of ['', 'AAAA', Buffer.alloc(48, 7).toString('base64')]) {
      expect(() => crypto.decrypt(garbage))
        .to.throw(AppError)
        .with.property('code', 'dingtalk.event_invalid_payload');
    }
  });

  it('refuses to open an event with a wrong signature', () => {
    expect(() => crypto.open({ signature: '0'.repeat(40), timestamp: vector.timestamp, nonce: vector.nonce, encrypt: vector.encrypt }))
      .to.throw(AppError)
      .with.property('code', 'dingtalk.event_invalid_signature');
  });

  it('builds the encrypted success reply DingTalk expects', () => {
    const reply = crypto.encryptedReply();
    expect(reply).to.have.all.keys('msg_signature', 'timeStamp', 'nonce', 'encrypt');
    expect(reply.timeStamp).to.match(/^\d{13}$/);
    expect(reply.nonce).to.match(/^[A-Za-z0-9]{16}$/);
    expect(crypto.verify(reply.msg_signature, reply.timeStamp, reply.nonce, reply.encrypt)).to.equal(true);
    expect(crypto.decrypt(reply.encrypt)).to.equal('success');
  });

  it('rejects an EncodingAESKey that is not 43 Base64 characters', () => {
    expect(() => createEventCrypto({ token: 't', aesKey: 'short', ownerKey: 'o' })).to.throw(ConfigError);
    expect(() => createEventCrypto({ token: 't', aesKey: `${vector.aesKey}=`, ownerKey: 'o' })).to.throw(ConfigError);
  });
});
