import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM for secrets at rest (private signing keys, client secrets). The key is derived from
 * KEY_ENCRYPTION_SECRET with HKDF and a purpose label, so one secret never encrypts two kinds of
 * data under the same key. A value is bound to its row: the row's id is the associated data, so a
 * ciphertext copied into another row does not decrypt there. Format: `v2.<iv>.<ciphertext>.<tag>`
 * (base64url); `v1.…` values (sealed before binding, no associated data) are still read, and
 * re-sealed as v2 at start (`isBound`, keys.ts / clients.ts `resealLegacy`).
 */
export interface SecretBox {
  /** Seals `plaintext` for the row `rowId` (a client id, a key id). */
  seal(plaintext: string, rowId: string): string;
  /** Opens a value of the row `rowId`; a v1 value is read without a row. */
  open(sealed: string, rowId: string): string;
}

/** True when `sealed` is bound to its row (v2); false for a legacy v1 value. */
export function isBound(sealed: string): boolean {
  return sealed.startsWith('v2.');
}

export function createSecretBox(secret: string, purpose: string): SecretBox {
  const key = Buffer.from(hkdfSync('sha256', secret, 'dingtalk-oidc', purpose, 32));
  return {
    seal(plaintext, rowId) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(associatedData(purpose, rowId));
      const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return ['v2', iv, data, cipher.getAuthTag()].map((part) => (typeof part === 'string' ? part : part.toString('base64url'))).join('.');
    },
    open(sealed, rowId) {
      const [version, iv, data, tag] = sealed.split('.');
      if ((version !== 'v1' && version !== 'v2') || !iv || data === undefined || !tag) {
        throw new Error('sealed value has an unknown format');
      }
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      if (version === 'v2') decipher.setAAD(associatedData(purpose, rowId));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      try {
        return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
      } catch (cause) {
        // Wrong KEY_ENCRYPTION_SECRET, tampered data, or a value moved from another row; never echo it.
        throw new Error(
          'cannot decrypt a stored secret: is KEY_ENCRYPTION_SECRET the one it was stored with, and the value in its own row?',
          {
            cause,
          },
        );
      }
    },
  };
}

function associatedData(purpose: string, rowId: string): Buffer {
  return Buffer.from(`${purpose}\u0000${rowId}`, 'utf8');
}
