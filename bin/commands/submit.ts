/**
 * `vlkit submit <task>`: leaderboard submission writers. Each task module in bin/commands/submit/ adds itself to
 * the group; the writers and their validation live in eval/ (the trainers' `predict` uses the same code).
 */
import type { Command } from 'commander';
import type { Register } from './index.js';

export const submitTasks: Register[] = [];

export const registerSubmit: Register = (program: Command) => {
  const group = program
    .command('submit')
    .description('write leaderboard submission files, validated against the question files first')
    .addHelpText('after', '\nExample:\n  $ vlkit submit vqa --questions v2_OpenEnded_mscoco_test2015_questions.json --predictions P.json --name mymodel --out sub/\n');
  for (const register of submitTasks) register(group);
};
