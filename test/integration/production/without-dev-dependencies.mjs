// Loaded with NODE_OPTIONS=--import=<this file> by start.test.ts: every package that
// `npm prune --omit=dev` removes (marked "dev" in package-lock.json) becomes unresolvable, so the
// built server runs with the dependencies the container image has, no more.
import { readFileSync } from 'node:fs';
import { register } from 'node:module';

const root = new URL('../../../', import.meta.url);
const lock = JSON.parse(readFileSync(new URL('package-lock.json', root), 'utf8'));
const devOnly = Object.entries(lock.packages ?? {})
  .filter(([key, meta]) => key !== '' && meta.dev === true)
  .map(([key]) => key);

register(new URL('./without-dev-dependencies.hooks.mjs', import.meta.url), {
  data: { root: new URL('.', root).pathname.replace(/\/$/, ''), devOnly },
});
