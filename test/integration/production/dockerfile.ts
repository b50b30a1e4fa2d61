/**
 * Just enough of the Dockerfile and .dockerignore formats to check ours without a Docker engine:
 * instructions (with line continuations, comments and parser directives), stages, exec-form
 * commands, and the context-exclusion rules of .dockerignore.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../../..');

export interface Instruction {
  /** Upper-case keyword: FROM, RUN, COPY, … */
  keyword: string;
  /** Everything after the keyword, continuation lines joined with a space. */
  args: string;
  line: number;
}

export interface Stage {
  image: string;
  name?: string;
  instructions: Instruction[];
}

export function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  const lines = text.split('\n');
  let buffer = '';
  let start = 0;
  for (let index = 0; index < lines.length; index += 1) {
    const raw = lines[index]!.replace(/\r$/, '');
    const trimmed = raw.trim();
    // Comments (and parser directives, which look like comments) and blank lines, also inside a
    // continued instruction, where Docker skips them too.
    if (trimmed.startsWith('#') || trimmed === '') continue;
    if (buffer === '') start = index + 1;
    if (trimmed.endsWith('\\')) {
      buffer += `${trimmed.slice(0, -1).trim()} `;
      continue;
    }
    buffer += trimmed;
    const match = /^(\S+)\s*(.*)$/s.exec(buffer.trim());
    if (match) instructions.push({ keyword: match[1]!.toUpperCase(), args: match[2]!.trim(), line: start });
    buffer = '';
  }
  if (buffer.trim() !== '') throw new Error(`Dockerfile ends inside a continued line (from line ${start})`);
  return instructions;
}

export function stagesOf(instructions: Instruction[]): Stage[] {
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const parts = instruction.args.split(/\s+/).filter((part) => !part.startsWith('--'));
      const [image = '', as, name] = parts;
      stages.push({ image, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else if (stages.length === 0) {
      if (instruction.keyword !== 'ARG') throw new Error(`${instruction.keyword} before the first FROM (line ${instruction.line})`);
    } else {
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return stages;
}

/** A JSON (exec form) argument list, or undefined for the shell form. */
export function execForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  const parsed = JSON.parse(args) as unknown;
  if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === 'string')) {
    throw new Error(`not a JSON array of strings: ${args}`);
  }
  return parsed;
}

export interface Copy {
  from?: string;
  sources: string[];
  destination: string;
  line: number;
}

export function copiesOf(stage: Stage): Copy[] {
  return stage.instructions
    .filter((instruction) => instruction.keyword === 'COPY' || instruction.keyword === 'ADD')
    .map((instruction) => {
      const words = execForm(instruction.args) ?? instruction.args.split(/\s+/);
      const flags = words.filter((word) => word.startsWith('--'));
      const paths = words.filter((word) => !word.startsWith('--'));
      const from = flags.find((flag) => flag.startsWith('--from='))?.slice('--from='.length);
      return { from, sources: paths.slice(0, -1), destination: paths.at(-1)!, line: instruction.line };
    });
}

/** `KEY=value KEY2=value2` (or the legacy `KEY value`) of ENV instructions, in order. */
export function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const instruction of stage.instructions.filter((i) => i.keyword === 'ENV')) {
    if (!instruction.args.includes('=')) {
      const [key, ...value] = instruction.args.split(/\s+/);
      env[key!] = value.join(' ');
      continue;
    }
    for (const pair of instruction.args.match(/[A-Za-z_][A-Za-z0-9_]*=("[^"]*"|\S*)/g) ?? []) {
      const [key, ...value] = pair.split('=');
      env[key!] = value.join('=').replace(/^"(.*)"$/, '$1');
    }
  }
  return env;
}

/**
 * .dockerignore as Docker reads it: patterns relative to the context root (Go filepath.Match plus
 * `**`), later lines win, `!` re-includes. A path is excluded when it or one of its parent folders
 * matches.
 */
export function dockerignore(text: string): (relativePath: string) => boolean {
  const rules = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const negate = line.startsWith('!');
      const pattern = path.posix.normalize((negate ? line.slice(1) : line).trim().replace(/^\/+/, ''));
      return { negate, regex: globToRegExp(pattern) };
    });
  return (relativePath) => {
    const normal = path.posix.normalize(relativePath).replace(/^\.\/|\/$/g, '');
    const candidates = normal.split('/').map((_, index, parts) => parts.slice(0, index + 1).join('/'));
    let excluded = false;
    for (const rule of rules) {
      if (candidates.some((candidate) => rule.regex.test(candidate))) excluded = !rule.negate;
    }
    return excluded;
  };
}

function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (let index = 0; index < pattern.length; index += 1) {
    const char = pattern[index]!;
    if (char === '*' && pattern[index + 1] === '*') {
      source += '.*';
      index += 1;
      if (pattern[index + 1] === '/') index += 1;
    } else if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

export function readRepoFile(relative: string): string {
  return readFileSync(path.join(ROOT, relative), 'utf8');
}

/** The Dockerfile of the repository, parsed. */
export function repoDockerfile(): { instructions: Instruction[]; stages: Stage[]; runtime: Stage } {
  const instructions = parseDockerfile(readRepoFile('Dockerfile'));
  const stages = stagesOf(instructions);
  return { instructions, stages, runtime: stages.at(-1)! };
}

/** The image's default command (the last stage's CMD, exec form). */
export function imageCommand(runtime: Stage): string[] {
  const cmd = runtime.instructions.filter((instruction) => instruction.keyword === 'CMD').at(-1);
  if (!cmd) throw new Error('the Dockerfile has no CMD');
  const argv = execForm(cmd.args);
  if (!argv) throw new Error('the CMD is not in exec form (["node", …]): SIGTERM would go to a shell');
  return argv;
}
