import { createCipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * A value as the first version of the secret box sealed it: AES-256-GCM with no associated data
 * (`v1.<iv>.<data>.<tag>`), written here independently of src/oidc/secret-box.ts, so that reading
 * old rows is tested against the format and not against the code that reads it.
 */
export function sealV1(secret: string, purpose: string, plaintext: string): string {
  const key = Buffer.from(hkdfSync('sha256', secret, 'dingtalk-oidc', purpose, 32));
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', iv, data, cipher.getAuthTag()].map((part) => (typeof part === 'string' ? part : part.toString('base64url'))).join('.');
}
