/**
 * Owns the running oidc-provider instance. oidc-provider takes its signing keys once, at
 * construction; to rotate keys without a restart (and to let every replica pick up a rotation made
 * elsewhere) the holder checks the key version in Postgres every `keyCacheMs` and swaps in a new
 * Provider built from the same configuration. All provider state lives in the adapter (Redis), so
 * a swap loses nothing; requests already in flight finish on the instance they started on.
 */
import type Koa from 'koa';
import mount from 'koa-mount';
import Provider, { type ClientMetadata, errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { Config } from '../config/schema.js';
import { AppError } from '../errors/app-error.js';
import type { Logger } from '../log.js';
import { rememberClientInstances } from './client-instances.js';
import { buildConfiguration, type ProviderDeps } from './configuration.js';
import type { KeyStore } from './keys.js';

export interface ProviderHolder {
  /** The provider serving requests now. */
  current(): Provider;
  /** Koa middleware that hands a request to the current provider. */
  middleware: Koa.Middleware;
  /**
   * Starts a key check in the background when `keyCacheMs` has passed since the last one (never
   * waits). `middleware` does it on every request; so must whatever answers from a copy of the
   * provider's documents (http/well-known.ts), or a replica serving only those would never notice
   * a rotation.
   */
  checkKeysIfDue(): void;
  /** Re-read keys now; rebuilds the provider if they changed. Resolves true when it did. */
  reloadKeys(): Promise<boolean>;
  /** Validate client metadata exactly as the provider will. */
  validateClient(metadata: ClientMetadata): Promise<void>;
}

export async function createProviderHolder(
  config: Config,
  keyStore: KeyStore,
  deps: Omit<ProviderDeps, 'jwks'>,
  logger: Logger,
  /** Called with every provider built (event listeners: audit, logs). */
  onProvider?: (provider: Provider) => void,
): Promise<ProviderHolder> {
  let keyVersion = '';
  let provider!: Provider;
  let mounted!: Koa.Middleware;
  let nextCheck = 0;
  let checking: Promise<boolean> | undefined;

  async function build(): Promise<void> {
    const [version, jwks] = await Promise.all([keyStore.version(), keyStore.privateJwks(config.oidc.signingAlg)]);
    const next = new Provider(config.issuer, buildConfiguration(config, { ...deps, jwks }));
    next.proxy = config.trustProxy;
    rememberClientInstances(next);
    // One frame around every provider request (this runs for every token and introspection call).
    next.use(async (ctx, nextMiddleware) => {
      await nextMiddleware();
      // StoreUnavailableError answers 503 itself and never reaches the server_error event.
      if (ctx.status === 503) logger.warn({ path: ctx.path }, 'storage unavailable: answered 503 temporarily_unavailable');
      requireClientAuthentication(ctx);
    });
    if (config.oidc.logoutRevokesOfflineGrants) next.use(revokeOfflineGrantsOnLogout);
    next.on('server_error', (ctx: KoaContextWithOIDC, error: Error) => {
      logger.error({ err: error, path: ctx.path }, 'oidc-provider server error');
    });
    onProvider?.(next);
    keyVersion = version;
    provider = next;
    mounted = mount(next as unknown as Koa);
  }

  async function checkKeys(): Promise<boolean> {
    nextCheck = Date.now() + config.oidc.keyCacheMs;
    const version = await keyStore.version();
    if (version === keyVersion) return false;
    await build();
    logger.info('signing keys changed: provider reloaded');
    return true;
  }

  function reloadKeys(): Promise<boolean> {
    checking ??= checkKeys().finally(() => {
      checking = undefined;
    });
    return checking;
  }

  await build();
  nextCheck = Date.now() + config.oidc.keyCacheMs;

  function checkKeysIfDue(): void {
    if (Date.now() >= nextCheck) {
      // Never make a request wait for Postgres: the check runs beside it.
      reloadKeys().catch((error: unknown) => logger.warn({ err: error }, 'key check failed'));
    }
  }

  return {
    current: () => provider,
    middleware: (ctx, next) => {
      checkKeysIfDue();
      return mounted(ctx, next) as Promise<void>;
    },
    checkKeysIfDue,
    reloadKeys,
    async validateClient(metadata) {
      await validateWith(provider, metadata);
    },
  };
}

/**
 * RFC 7662 §2.1 and RFC 7009 §2.1 require client authentication at introspection and
 * revocation; a request that presents none gets `401 invalid_client` (RFC 6749 §5.2), not
 * oidc-provider's `400 invalid_request`. Run on oidc-provider's answer.
 */
function requireClientAuthentication(ctx: Koa.Context): void {
  const oidc = (ctx as unknown as KoaContextWithOIDC).oidc as KoaContextWithOIDC['oidc'] | undefined;
  if (ctx.status !== 400 || !oidc || (oidc.route !== 'introspection' && oidc.route !== 'revocation')) return;
  if (ctx.get('authorization')) return;
  const body = (oidc.body ?? {}) as Record<string, unknown>;
  if (body.client_id !== undefined || body.client_assertion !== undefined) return;
  ctx.status = 401;
  ctx.set('WWW-Authenticate', 'Basic realm="token"');
  ctx.body = { error: 'invalid_client', error_description: 'client authentication is required' };
}

/**
 * A validator for tools that register clients without running the server (the CLI): a throwaway
 * provider with the real configuration, so metadata is checked exactly as it will be at run time.
 */
export async function createClientValidator(config: Config, keyStore: KeyStore): Promise<(metadata: ClientMetadata) => Promise<void>> {
  const jwks = await keyStore.privateJwks(config.oidc.signingAlg);
  const unused = async (): Promise<never> => {
    throw new Error('not available while validating');
  };
  const adapter = {
    find: unused,
    upsert: unused,
    findByUid: unused,
    findByUserCode: unused,
    consume: unused,
    destroy: unused,
    revokeByGrantId: unused,
  };
  const provider = new Provider(
    config.issuer,
    buildConfiguration(config, {
      adapterFor: () => adapter,
      clientAdapter: adapter,
      findAccount: async () => undefined,
      jwks,
      staticClients: [],
      findResourceServer: async () => undefined,
      renderError: async () => undefined,
      logoutSource: async () => undefined,
      postLogoutSuccessSource: async () => undefined,
    }),
  );
  return async (metadata) => {
    await validateWith(provider, metadata);
  };
}

/**
 * oidc-provider's own check of client metadata. Its refusal (InvalidClientMetadata,
 * InvalidRedirectUri…) becomes a 400 `clients.invalid_metadata` carrying its description, which
 * names the offending field and is safe to show.
 */
async function validateWith(provider: Provider, metadata: ClientMetadata): Promise<void> {
  try {
    await provider.Client.validate(metadata);
  } catch (error) {
    if (!(error instanceof errors.OIDCProviderError)) throw error;
    throw new AppError('clients.invalid_metadata', error.error_description ?? error.message, { status: 400, cause: error });
  }
}

/**
 * After a full logout (the person confirmed), also revoke the grants oidc-provider keeps across
 * logout (offline_access), when LOGOUT_REVOKES_OFFLINE_GRANTS is set.
 */
async function revokeOfflineGrantsOnLogout(ctx: Koa.Context, next: Koa.Next): Promise<void> {
  await next();
  const oidc = (ctx as unknown as KoaContextWithOIDC).oidc as KoaContextWithOIDC['oidc'] | undefined;
  if (!oidc || oidc.route !== 'end_session_confirm' || ctx.status !== 303 || !oidc.params?.logout) return;
  const authorizations = (oidc.session as { authorizations?: Record<string, { grantId?: string; persistsLogout?: boolean }> } | undefined)
    ?.authorizations;
  for (const { grantId, persistsLogout } of Object.values(authorizations ?? {})) {
    if (!grantId || !persistsLogout) continue;
    const grant = await oidc.provider.Grant.find(grantId);
    // Our adapters index every token of a grant, so one call removes them all (redis-adapter.ts).
    await oidc.provider.RefreshToken.adapter.revokeByGrantId(grantId);
    await grant?.destroy();
    oidc.provider.emit('grant.revoked', ctx, grantId);
  }
}
