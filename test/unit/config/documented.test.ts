import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { ENV_VARS } from '../../../src/config/schema.js';

/** The variables named in the first column of docs/configuration.md's table. */
function documentedVariables(): string[] {
  const page = readFileSync(path.resolve(import.meta.dirname, '../../../docs/configuration.md'), 'utf8');
  return page
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .flatMap((line) => [...line.split('|')[1]!.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1]!));
}

describe('docs/configuration.md', function () {
  it('documents every environment variable the configuration reads, and only those', function () {
    expect([...documentedVariables()].sort()).to.deep.equal(Object.keys(ENV_VARS).sort());
  });
});
