/** Signing keys for operators: list, rotate (published at once, signing after a delay) and retire. */
import { AppError } from '../../errors/app-error.js';
import type { KeyInfo, KeyStore } from '../../oidc/keys.js';
import type { Actor, AuditRecorder } from './actor.js';

export interface KeyOpsDeps {
  keyStore: KeyStore;
  /** Tell every replica (this one included) that the keys changed: `notifier.publish('keys')`. */
  keysChanged?: () => Promise<void>;
  record: AuditRecorder;
}

export function createKeyOps(deps: KeyOpsDeps) {
  const { record } = deps;

  return {
    listKeys: (): Promise<KeyInfo[]> => deps.keyStore.list(),

    /**
     * A new key for `alg`: published at once, signing after the activation delay, or at once with
     * `immediate`. Every replica is told (notifier), so it serves the new JWKS without waiting.
     */
    async rotateKey(alg: string, immediate: boolean, actor: Actor): Promise<KeyInfo> {
      if (alg !== 'RS256' && alg !== 'ES256') throw new AppError('keys.invalid_alg', 'alg is RS256 or ES256', { status: 400 });
      const key = await deps.keyStore.rotate(alg, { immediate });
      await deps.keysChanged?.();
      await record(actor, { type: 'key.rotated', details: { kid: key.kid, alg, immediate, activatesAt: key.activatesAt.toISOString() } });
      return key;
    },

    /** Stops publishing a key; the last signing key of an algorithm cannot be retired (rotate first). */
    async retireKey(kid: string, actor: Actor): Promise<{ kid: string; retired: boolean }> {
      const keys = await deps.keyStore.list();
      const key = keys.find((k) => k.kid === kid);
      if (!key || key.status !== 'active') throw new AppError('keys.not_found', `no published key ${kid}`, { status: 404 });
      // The current key signs new tokens; retiring it would leave tokens it just signed unverifiable.
      if (key.current)
        throw new AppError(
          'keys.current',
          `${kid} is the current ${key.alg} signing key: rotate first, then retire it once its tokens have expired`,
          { status: 409 },
        );
      const retired = await deps.keyStore.retire(kid);
      await deps.keysChanged?.();
      await record(actor, { type: 'key.retired', details: { kid, alg: key.alg } });
      return { kid, retired };
    },
  };
}

export type KeyOps = ReturnType<typeof createKeyOps>;
