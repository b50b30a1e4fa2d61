#!/usr/bin/env node
// In a checkout: the TypeScript sources through tsx (never a stale build). In the container,
// which ships only dist/: the built CLI.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/index.ts', import.meta.url);
const built = new URL('../dist/src/cli/index.js', import.meta.url);
let tsx;
if (existsSync(source)) {
  try {
    tsx = await import('tsx/esm/api');
  } catch {
    tsx = undefined; // production install without dev dependencies
  }
}
if (tsx) {
  tsx.register();
  await import(source.href);
} else if (existsSync(built)) {
  await import(built.href);
} else {
  console.error('dingtalk-oidc: run `npm install` (sources) or `npm run build` (dist/) first');
  process.exitCode = 1;
}
