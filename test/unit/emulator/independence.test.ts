import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { expect } from 'chai';

// The emulator stands in for DingTalk, written from dingtalk-api.md: if it reused the client's code
// (crypto, schemas, error tables), a mistake there would be made on both sides and no test could see it.
const root = resolve(import.meta.dirname, '../../../src/emulator');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

describe('emulator independence', () => {
  it('imports nothing from outside src/emulator but packages and Node built-ins', () => {
    const outside: string[] = [];
    for (const file of sources(root)) {
      for (const match of readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)) {
        const specifier = match[1] ?? '';
        if (!specifier.startsWith('.')) continue;
        const target = resolve(join(file, '..'), specifier);
        if (relative(root, target).startsWith('..')) outside.push(`${relative(root, file)} → ${specifier}`);
      }
    }
    expect(outside).to.deep.equal([]);
  });
});
