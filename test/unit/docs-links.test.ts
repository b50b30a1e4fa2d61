import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';

const ROOT = path.resolve(import.meta.dirname, '../..');

function pages(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const relative = path.join(dir, entry.name);
    if (entry.isDirectory()) return pages(relative);
    return entry.name.endsWith('.md') ? [relative] : [];
  });
}

describe('documentation links', function () {
  it('every relative link of the README and docs/ points at a file of the repository', function () {
    const broken: string[] = [];
    for (const page of ['README.md', 'deploy/README.md', 'bench/README.md', ...pages('docs')]) {
      const text = readFileSync(path.join(ROOT, page), 'utf8');
      for (const [, link] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(link!) || link!.startsWith('#')) continue;
        const target = path.join(ROOT, path.dirname(page), decodeURIComponent(link!.split('#')[0]!));
        if (!existsSync(target)) broken.push(`${page}: ${link}`);
      }
    }
    expect(broken).to.deep.equal([]);
  });

  it('the README links every page of docs/', function () {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const linked = new Set([...readme.matchAll(/\]\((docs\/[^)#\s]+)/g)].map((m) => m[1]));
    const missing = pages('docs').filter((page) => !linked.has(page));
    expect(missing, 'add them to the README\'s "Documentation" table').to.deep.equal([]);
  });
});
