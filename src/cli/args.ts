/**
 * How every command reads its arguments: node:util parseArgs, strict (an unknown option is an
 * error), `--help`/`-h` on every command, and the same answers to asking for help, to a missing
 * action and to an unknown one.
 */
import { parseArgs } from 'node:util';

interface OptionSpec {
  type: 'string' | 'boolean';
  multiple?: boolean;
  short?: string;
}

const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const;

/** A command's options (with `--help`) and words; `positionals: false` refuses any word. */
export function parseCommand<const O extends Record<string, OptionSpec>>(args: string[], options: O, { positionals = true } = {}) {
  return parseArgs({ args, allowPositionals: positionals, strict: true, options: { ...options, ...HELP_OPTION } });
}

/** `--help` (exit code 0), or no action given (exit code 1): prints the help and returns the exit code. */
export function showHelp(help: string, asked: boolean | undefined): number {
  console.log(help);
  return asked ? 0 : 1;
}

/** A command this program does not have (`message` names it): the message, then the help; exit code 1. */
export function unknownCommand(message: string, help: string): number {
  console.error(`${message}\n\n${help}`);
  return 1;
}

/** `--page N`: a page number from 1; anything else is the first page. */
export function pageOf(value: string | undefined): number {
  return Math.max(1, Number(value ?? 1) || 1);
}
