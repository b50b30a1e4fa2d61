/** oidc-provider's request storage (lib/helpers/als.js): every request it serves runs in it with its Koa context (src/log.ts). */
declare module 'oidc-provider/lib/helpers/als.js' {
  import type { AsyncLocalStorage } from 'node:async_hooks';

  const storage: AsyncLocalStorage<unknown>;
  export default storage;
}
