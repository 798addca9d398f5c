/** `vlkit submit vqa`: VQA test-dev/test-std EvalAI results json, every test2015 question exactly once */
import type { Command } from 'commander';
import { buildVqaSubmissionFiles } from '../../../eval/submit/index.js';
import { action, subcommand } from '../../cli.js';
import { runSubmission } from './run.js';

export function registerVqaSubmit(group: Command): void {
  subcommand(group, 'vqa', 'VQA test-dev/test-std EvalAI results json, every test2015 question exactly once', 'vlkit submit vqa --predictions test_predict.json --questions v2_OpenEnded_mscoco_test2015_questions.json --name mymodel --out submissions/')
    .requiredOption('--predictions <file>', 'predictions: [{"question_id": int, "answer": str}] or {"<question_id>": answer}')
    .requiredOption('--questions <file>', 'v2_OpenEnded_mscoco_test2015_questions.json (the required question ids)')
    .requiredOption('--out <path>', 'output file, or a directory to get the leaderboard file name')
    .option('--name <name>', 'method name in the file name vqa_OpenEnded_mscoco_test2015_<name>_results.json', 'vlkit')
    .option('--force', 'write the valid records even when problems were found')
    .action(
      action('submit vqa', async (flags: { predictions: string; questions: string; out: string; force?: boolean; name: string }) =>
        runSubmission('vqa', buildVqaSubmissionFiles(flags), flags.force ?? false),
      ),
    );
}
