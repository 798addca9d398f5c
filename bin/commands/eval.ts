/**
 * `vlkit eval <task>`: one subcommand per official evaluator. Each task module in bin/commands/eval/ exports a
 * Register listed in `evalTasks` below; the evaluators themselves live in eval/ so trainers can call them as library functions.
 */
import type { Command } from 'commander';
import type { Register } from './index.js';
import { registerVqa } from './eval/vqa.js';
import { registerNlvr2 } from './eval/nlvr2.js';
import { registerGqa } from './eval/gqa.js';
import { registerCaptions } from './eval/captions.js';
import { registerRetrieval } from './eval/retrieval.js';
import { registerVoc07 } from './eval/voc07.js';
import { registerImagenet } from './eval/imagenet.js';
import { registerRefcoco } from './eval/refcoco.js';
import { registerVcr } from './eval/vcr.js';

// One line per task module, e.g. `import { registerVqa } from './eval/vqa.js';` and `registerVqa` below.
export const evalTasks: Register[] = [registerVqa, registerNlvr2, registerGqa, registerCaptions, registerRetrieval, registerVoc07, registerImagenet, registerRefcoco, registerVcr];

export const registerEval: Register = (program: Command) => {
  const group = program
    .command('eval')
    .description('official-style evaluators: metrics identical to the official scripts')
    .addHelpText('after', '\nExample:\n  $ vlkit eval vqa --questions Q.json --annotations A.json --results R.json --json\n');
  for (const register of evalTasks) register(group);
};
