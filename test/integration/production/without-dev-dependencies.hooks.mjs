// Module resolution hooks for without-dev-dependencies.mjs (they run on Node's loader thread).
import { fileURLToPath } from 'node:url';

let root = '';
let devOnly = new Set();

export function initialize(data) {
  root = data.root;
  devOnly = new Set(data.devOnly);
}

// node_modules/a, node_modules/@s/a, node_modules/a/node_modules/b …: the lockfile's package keys.
const PACKAGE = /^node_modules\/(?:@[^/]+\/)?[^/]+(?:\/node_modules\/(?:@[^/]+\/)?[^/]+)*/;

export async function resolve(specifier, context, nextResolve) {
  const result = await nextResolve(specifier, context);
  if (!result.url.startsWith('file:')) return result;
  const file = fileURLToPath(result.url);
  if (!file.startsWith(`${root}/node_modules/`)) return result;
  const key = PACKAGE.exec(file.slice(root.length + 1))?.[0];
  if (key && devOnly.has(key)) {
    const error = new Error(
      `Cannot find package '${specifier}' imported from ${context.parentURL ?? 'the command line'}: ` +
        `${key} is a dev dependency, which the container image does not have (npm prune --omit=dev)`,
    );
    error.code = 'ERR_MODULE_NOT_FOUND';
    throw error;
  }
  return result;
}
