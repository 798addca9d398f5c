/**
 * `vlkit submit <task>`: leaderboard submission writers. Each task module in bin/commands/submit/ exports a Register
 * listed in `submitTasks` below; the writers and their validation live in eval/ (the trainers' `predict` uses the same code).
 */
import type { Command } from 'commander';
import type { Register } from './index.js';
import { registerVqaSubmit } from './submit/vqa.js';
import { registerGqaSubmit } from './submit/gqa.js';
import { registerNlvr2Submit } from './submit/nlvr2.js';
import { registerVcrSubmit } from './submit/vcr.js';
import { registerCaptionsSubmit } from './submit/captions.js';

// One line per task module, e.g. `import { registerVqa } from './submit/vqa.js';` and `registerVqa` below.
export const submitTasks: Register[] = [registerVqaSubmit, registerGqaSubmit, registerNlvr2Submit, registerVcrSubmit, registerCaptionsSubmit];

export const registerSubmit: Register = (program: Command) => {
  const group = program
    .command('submit')
    .description('write leaderboard submission files, validated against the question files first')
    .addHelpText('after', '\nExample:\n  $ vlkit submit vqa --questions v2_OpenEnded_mscoco_test2015_questions.json --predictions P.json --name mymodel --out sub/\n');
  for (const register of submitTasks) register(group);
};
