import { createCipheriv, createDecipheriv, createHash, randomInt } from 'node:crypto';

// DingTalk's side of the HTTP event subscription's crypto (dingtalk-api.md §5.1), written from the
// document alone and deliberately sharing no code with the product's client (src/dingtalk): a mistake
// in one of the two then shows up as a failed push in the tests instead of being made twice.

/** One event subscription as the developer console holds it. */
export interface EventSubscription {
  /** The signing token. */
  token: string;
  /** The 43-character EncodingAESKey. */
  aesKey: string;
  /** The owner key sealed into every message: the app's AppKey / Client ID (§5.1, §6.2 gotcha 10). */
  ownerKey: string;
}

/** §5.1: the plaintext is padded PKCS#7-style to a 32-byte block, 1–32 bytes of value n. */
const PAD_BLOCK = 32;
const RANDOM_PREFIX_LENGTH = 16;
const LENGTH_FIELD = 4;
const LETTERS_AND_DIGITS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** `length` random ASCII letters and digits (the 16-character prefix, nonces). */
export function randomAscii(length: number): string {
  return Array.from({ length }, () => LETTERS_AND_DIGITS.charAt(randomInt(LETTERS_AND_DIGITS.length))).join('');
}

/** SHA-1 hex of token, timestamp, nonce and encrypt, sorted lexicographically and concatenated (§5.1). */
export function signEvent(subscription: EventSubscription, timestamp: string, nonce: string, encrypt: string): string {
  const parts = [subscription.token, timestamp, nonce, encrypt];
  parts.sort();
  return createHash('sha1').update(parts.join(''), 'utf8').digest('hex');
}

/** The AES-256 key (EncodingAESKey + "=" Base64-decoded) and its IV (the key's first 16 bytes). */
function keyOf(subscription: EventSubscription): { key: Buffer; iv: Buffer } {
  const key = Buffer.from(`${subscription.aesKey}=`, 'base64');
  if (subscription.aesKey.length !== 43 || key.length !== 32) {
    throw new Error('emulator: an EncodingAESKey is 43 Base64 characters (32 bytes once "=" is appended)');
  }
  return { key, iv: key.subarray(0, 16) };
}

/**
 * Encrypts `message` as DingTalk does (§5.1): 16 random ASCII characters ‖ 4-byte big-endian byte length
 * ‖ message (UTF-8) ‖ owner key, padded to 32 bytes, AES-256-CBC without the cipher's own padding,
 * Base64. `prefix` is fixed only in tests.
 */
export function encryptEvent(subscription: EventSubscription, message: string, prefix = randomAscii(RANDOM_PREFIX_LENGTH)): string {
  const { key, iv } = keyOf(subscription);
  const body = Buffer.from(message, 'utf8');
  const length = Buffer.alloc(LENGTH_FIELD);
  length.writeUInt32BE(body.length);
  const plain = Buffer.concat([Buffer.from(prefix, 'ascii'), length, body, Buffer.from(subscription.ownerKey, 'utf8')]);
  const n = PAD_BLOCK - (plain.length % PAD_BLOCK); // 1..32: a full block when already aligned
  const padded = Buffer.concat([plain, Buffer.alloc(n, n)]);
  const cipher = createCipheriv('aes-256-cbc', key, iv).setAutoPadding(false);
  return Buffer.concat([cipher.update(padded), cipher.final()]).toString('base64');
}

/**
 * Decrypts an `encrypt` value and returns the message, or `undefined` when it cannot be read: not
 * Base64 blocks, bad padding, a length running past the end, or an owner key other than this
 * subscription's (a reply sealed for another app counts as no reply).
 */
export function decryptEvent(subscription: EventSubscription, encrypt: string): string | undefined {
  const { key, iv } = keyOf(subscription);
  const data = Buffer.from(encrypt, 'base64');
  if (data.length === 0 || data.length % 16 !== 0) return undefined;
  let plain: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-cbc', key, iv).setAutoPadding(false);
    plain = Buffer.concat([decipher.update(data), decipher.final()]);
  } catch {
    return undefined;
  }
  const n = plain.at(-1) ?? 0;
  // Like DingTalk's reference helper (CRYPTO-JAVA), only the last byte's value is checked.
  if (n < 1 || n > PAD_BLOCK || n > plain.length) return undefined;
  const unpadded = plain.subarray(0, plain.length - n);
  const start = RANDOM_PREFIX_LENGTH + LENGTH_FIELD;
  if (unpadded.length < start) return undefined;
  const size = unpadded.readUInt32BE(RANDOM_PREFIX_LENGTH);
  if (start + size > unpadded.length) return undefined;
  if (unpadded.subarray(start + size).toString('utf8') !== subscription.ownerKey) return undefined;
  return unpadded.subarray(start, start + size).toString('utf8');
}
