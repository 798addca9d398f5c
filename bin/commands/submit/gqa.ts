/** `vlkit submit gqa`: GQA submission json [{"questionId": str, "prediction": str}], every question exactly once */
import type { Command } from 'commander';
import { buildGqaSubmissionFiles } from '../../../eval/submit/index.js';
import { action, subcommand } from '../../cli.js';
import { runSubmission } from './run.js';

export function registerGqaSubmit(group: Command): void {
  subcommand(group, 'gqa', 'GQA submission json [{"questionId": str, "prediction": str}], every question exactly once', 'vlkit submit gqa --predictions predictions.json --questions submission_all_questions.json --out submission/')
    .requiredOption('--predictions <file>', 'predictions: [{"questionId": str, "prediction": str}] or {"<questionId>": prediction}')
    .requiredOption('--questions <file>', 'GQA questions file {questionId: question} (the required question ids)')
    .requiredOption('--out <path>', 'output file, or a directory to get the leaderboard file name')
    .option('--force', 'write the valid records even when problems were found')
    .action(
      action('submit gqa', async (flags: { predictions: string; questions: string; out: string; force?: boolean }) =>
        runSubmission('gqa', buildGqaSubmissionFiles(flags), flags.force ?? false),
      ),
    );
}
