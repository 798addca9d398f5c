/**
 * `vlkit eval <task>`: one subcommand per official evaluator. Each task module in bin/commands/eval/ adds itself
 * to the group; the evaluators themselves live in eval/ so trainers can call them as library functions.
 */
import type { Command } from 'commander';
import type { Register } from './index.js';

export const evalTasks: Register[] = [];

export const registerEval: Register = (program: Command) => {
  const group = program
    .command('eval')
    .description('official-style evaluators: metrics identical to the official scripts')
    .addHelpText('after', '\nExample:\n  $ vlkit eval vqa --questions Q.json --annotations A.json --results R.json --json\n');
  for (const register of evalTasks) register(group);
};
