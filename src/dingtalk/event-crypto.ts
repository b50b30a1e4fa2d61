import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { AppError, ConfigError } from '../errors/app-error.js';

/** Settings of one event subscription. */
export interface EventCryptoOptions {
  /** The subscription's signing token. */
  token: string;
  /** The 43-character EncodingAESKey. */
  aesKey: string;
  /** The app's Client ID (AppKey); corpId only for the old `register_call_back` API. */
  ownerKey: string;
}

/** The JSON DingTalk expects back from the event URL (and the shape of its own signed pushes). */
export interface EncryptedReply {
  msg_signature: string;
  timeStamp: string;
  nonce: string;
  encrypt: string;
}

/** What DingTalk sends: query `signature`/`msg_signature`, `timestamp`, `nonce`; body `{encrypt}`. */
export interface SignedEvent {
  signature: string;
  timestamp: string;
  nonce: string;
  encrypt: string;
}

/** Event crypto bound to one subscription. */
export interface EventCrypto {
  /** SHA-1 hex signature of the sorted four strings. */
  sign(timestamp: string, nonce: string, encrypt: string): string;
  /** Constant-time check of `signature` (case-insensitive hex). */
  verify(signature: string, timestamp: string, nonce: string, encrypt: string): boolean;
  /** Encrypts `message`; `random` (16 chars) is only fixed in tests. */
  encrypt(message: string, random?: string): string;
  /** Decrypts and checks the owner key; throws `dingtalk.event_invalid_payload` otherwise. */
  decrypt(encrypt: string): string;
  /** Verifies the signature (`dingtalk.event_invalid_signature`) and then decrypts. */
  open(event: SignedEvent): string;
  /** The reply DingTalk expects: an encrypted, signed `success` (ms timestamp, 16-char nonce). */
  encryptedReply(message?: string, options?: { timestamp?: string; nonce?: string }): EncryptedReply;
}

const BLOCK_SIZE = 32;
const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** `n` random alphanumeric characters (the Java helper's `getRandomStr`). */
export function randomAlphanumeric(n: number): string {
  const bytes = randomBytes(n);
  let out = '';
  for (const byte of bytes) out += ALPHANUMERIC[byte % ALPHANUMERIC.length];
  return out;
}

/**
 * Builds the event-callback crypto for one subscription (HTTP push, §5.1; reference implementations
 * CRYPTO-JAVA / CRYPTO-PY in open-dingtalk/DingTalk-Callback-Crypto):
 * - signature = SHA-1 hex of [token, timestamp, nonce, encrypt] sorted lexicographically and joined;
 * - key = Base64(EncodingAESKey + '='), 32 bytes, AES-256-CBC, IV = the first 16 key bytes, padding
 *   done by hand: PKCS#7 to a **32-byte** block (1–32 bytes), not the cipher's 16;
 * - plaintext = 16 random chars ‖ 4-byte big-endian message length ‖ message ‖ owner key, where the
 *   owner key is the app's Client ID (AppKey) for console-configured apps — not the corpId (§6.2/10).
 * Rejects a malformed EncodingAESKey up front (`ConfigError`).
 */
export function createEventCrypto(options: EventCryptoOptions): EventCrypto {
  const { token, ownerKey } = options;
  if (!/^[A-Za-z0-9+/]{43}$/.test(options.aesKey)) {
    throw new ConfigError(['DingTalk event EncodingAESKey must be exactly 43 Base64 characters']);
  }
  const key = Buffer.from(`${options.aesKey}=`, 'base64');
  if (key.length !== 32) {
    throw new ConfigError(['DingTalk event EncodingAESKey must decode to 32 bytes']);
  }
  const iv = key.subarray(0, 16);

  const sign = (timestamp: string, nonce: string, encrypt: string): string =>
    createHash('sha1').update([token, timestamp, nonce, encrypt].sort().join('')).digest('hex');

  const verify = (signature: string, timestamp: string, nonce: string, encrypt: string): boolean => {
    const expected = Buffer.from(sign(timestamp, nonce, encrypt), 'utf8');
    const given = Buffer.from(signature.toLowerCase(), 'utf8');
    return expected.length === given.length && timingSafeEqual(expected, given);
  };

  const encrypt = (message: string, random: string = randomAlphanumeric(16)): string => {
    const body = Buffer.from(message, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(body.length, 0);
    const plain = Buffer.concat([Buffer.from(random, 'utf8'), length, body, Buffer.from(ownerKey, 'utf8')]);
    const pad = BLOCK_SIZE - (plain.length % BLOCK_SIZE);
    const cipher = createCipheriv('aes-256-cbc', key, iv);
    cipher.setAutoPadding(false);
    return Buffer.concat([cipher.update(Buffer.concat([plain, Buffer.alloc(pad, pad)])), cipher.final()]).toString('base64');
  };

  const decrypt = (encrypted: string): string => {
    const data = Buffer.from(encrypted, 'base64');
    if (data.length === 0 || data.length % 16 !== 0) throw invalidPayload();
    let plain: Buffer;
    try {
      const decipher = createDecipheriv('aes-256-cbc', key, iv);
      decipher.setAutoPadding(false);
      plain = Buffer.concat([decipher.update(data), decipher.final()]);
    } catch (error) {
      throw invalidPayload(error);
    }
    const pad = plain[plain.length - 1] ?? 0;
    if (pad < 1 || pad > BLOCK_SIZE || pad > plain.length) throw invalidPayload();
    const unpadded = plain.subarray(0, plain.length - pad);
    if (unpadded.length < 20) throw invalidPayload();
    const length = unpadded.readUInt32BE(16);
    if (20 + length > unpadded.length) throw invalidPayload();
    const owner = unpadded.subarray(20 + length).toString('utf8');
    // A different owner key means the event was meant for another app (or the key is misconfigured).
    if (owner !== ownerKey) throw invalidPayload();
    return unpadded.subarray(20, 20 + length).toString('utf8');
  };

  return {
    sign,
    verify,
    encrypt,
    decrypt,
    open(event) {
      if (!verify(event.signature, event.timestamp, event.nonce, event.encrypt)) {
        throw new AppError('dingtalk.event_invalid_signature', 'DingTalk event signature does not match', {
          status: 401,
        });
      }
      return decrypt(event.encrypt);
    },
    encryptedReply(message = 'success', replyOptions = {}) {
      const timeStamp = replyOptions.timestamp ?? String(Date.now());
      const nonce = replyOptions.nonce ?? randomAlphanumeric(16);
      const encrypted = encrypt(message);
      return { msg_signature: sign(timeStamp, nonce, encrypted), timeStamp, nonce, encrypt: encrypted };
    },
  };
}

function invalidPayload(cause?: unknown): AppError {
  return new AppError('dingtalk.event_invalid_payload', 'DingTalk event payload cannot be decrypted', {
    status: 400,
    cause,
  });
}
