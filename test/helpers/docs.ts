/**
 * The commands a documentation page shows, so that tests run what a reader copies rather than a
 * copy of it that can drift.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** A page of the repository (`docs/…`, `README.md`). */
export function readPage(page: string): string {
  return readFileSync(path.join(ROOT, page), 'utf8');
}

/** The fenced code blocks of a page with the given info string (`sh`, `apache`, `ini`, …). */
export function codeBlocks(page: string, lang: string): string[] {
  const blocks: string[] = [];
  const fence = new RegExp(`^\`\`\`${lang}\\n([\\s\\S]*?)^\`\`\`$`, 'gm');
  for (const match of readPage(page).matchAll(fence)) blocks.push(match[1]!);
  return blocks;
}

/**
 * Every command line of the page's `sh` blocks that starts with `prefix` (e.g. `npx dingtalk-oidc`),
 * as its words after the prefix: continuation lines joined, trailing comments dropped, quotes
 * removed as a POSIX shell would.
 */
export function shellCommands(page: string, prefix: string): string[][] {
  const commands: string[][] = [];
  for (const block of codeBlocks(page, 'sh')) {
    const lines = block.replace(/\\\n\s*/g, ' ').split('\n');
    for (const line of lines) {
      if (!line.startsWith(`${prefix} `)) continue;
      commands.push(shellWords(line.slice(prefix.length)));
    }
  }
  return commands;
}

/** Split like a shell: single and double quotes, backslash escapes, `#` comments. */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i += 1) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < line.length) word += line[++i]!;
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      word ??= '';
    } else if (c === '\\' && i + 1 < line.length) {
      word = (word ?? '') + line[++i]!;
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === '#' && word === undefined) {
      break;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (quote) throw new Error(`unterminated quote in: ${line}`);
  if (word !== undefined) words.push(word);
  return words;
}
