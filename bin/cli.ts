/**
 * Shared plumbing of the `vlkit` CLI: how a subcommand is declared (common options, an example in --help), how
 * its result and errors become exit codes, and how trailing `key=value` arguments become config overrides.
 */
import { Command, CommanderError, Option } from 'commander';
import { EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, exitCodeOf, messageOf } from '../common/errors.js';
import { isOverride } from '../common/config.js';
import { LOG_FORMATS } from '../common/progress.js';

/** Create a subcommand with the CLI-wide behaviour; `example` is shown by `vlkit <name> --help`. */
export function subcommand(program: Command, name: string, summary: string, example: string): Command {
  return program
    .command(name)
    .description(summary)
    .addHelpText('after', `\nExample:\n  $ ${example}\n`);
}

/** `--log-format` and `--config`, shared by every long-running command. */
export function withRunOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--log-format <format>', 'progress on stderr: bar (TTY), json lines, none; auto picks by TTY')
        .choices([...LOG_FORMATS])
        .default('auto'),
    )
    .option('--config <file>', 'YAML run configuration; `key.path=value` arguments override it');
}

/** Split positional arguments into plain arguments and `key.path=value` config overrides. */
export function splitOverrides(args: string[]): { positional: string[]; overrides: string[] } {
  const positional: string[] = [];
  const overrides: string[] = [];
  for (const a of args) (isOverride(a) ? overrides : positional).push(a);
  return { positional, overrides };
}

/** Parse a flag as an integer within bounds, with a usage error naming the flag. */
export function intFlag(name: string, min = 0, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new CommanderError(EXIT_USAGE, 'vlkit.invalidArgument', `error: ${name} must be an integer in [${min}, ${max}] (got '${value}')`);
    }
    return n;
  };
}

/** Parse a flag as a finite number. */
export function numberFlag(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n)) {
      throw new CommanderError(EXIT_USAGE, 'vlkit.invalidArgument', `error: ${name} must be a number (got '${value}')`);
    }
    return n;
  };
}

async function flushAndExit(code: number): Promise<never> {
  // process.exit can cut off output still queued for a pipe; wait for both streams to drain first.
  await new Promise<void>((r) => process.stdout.write('', () => r()));
  await new Promise<void>((r) => process.stderr.write('', () => r()));
  process.exit(code);
}

/**
 * Wrap a command's implementation: a returned number is the exit code (0 or 1), a thrown UsageError/InputError
 * exits 2 with its message, anything else is a bug and exits 3 with the stack.
 */
export function action<A extends unknown[]>(name: string, fn: (...args: A) => Promise<number | void>) {
  return async (...args: A): Promise<void> => {
    let code: number;
    try {
      code = (await fn(...args)) ?? EXIT_OK;
    } catch (err) {
      code = exitCodeOf(err);
      if (code === EXIT_INTERNAL) process.stderr.write(`vlkit ${name}: internal error: ${(err as Error)?.stack ?? messageOf(err)}\n`);
      else process.stderr.write(`vlkit ${name}: error: ${messageOf(err)}\n`);
    }
    await flushAndExit(code);
  };
}
