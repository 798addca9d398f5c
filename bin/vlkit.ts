#!/usr/bin/env node
/** Entry point of the `vlkit` CLI: one program, one subcommand per job (see bin/commands/). */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { EXIT_OK, EXIT_USAGE } from '../common/errors.js';
import { commands } from './commands/index.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('vlkit')
  .description('Vision-language toolkit: validate images, write ViLT Arrow datasets, extract bottom-up features, train, evaluate')
  .version(pkg.version)
  .showHelpAfterError('(run with --help for usage and an example)')
  // Root options (--version) only before the subcommand, so a subcommand may have its own --version flag.
  .enablePositionalOptions()
  .exitOverride()
  .addHelpText('after', '\nExample:\n  $ vlkit demo            # validate the bundled images and write an Arrow dataset\n  $ vlkit validate --help\n');

// `vlkit … | head` closes the pipe early: that is the reader's choice, not an error worth a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(EXIT_OK);
  throw err;
});

for (const register of commands) register(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Commander has already printed its message. Help and version are successes; everything else is usage.
    const ok = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help';
    process.exitCode = ok ? EXIT_OK : EXIT_USAGE;
  } else {
    throw err;
  }
}
