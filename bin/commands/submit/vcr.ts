/** `vlkit submit vcr`: VCR leaderboard CSV (annot_id, answer_0..3, rationale_conditioned_on_a{i}_{j}), every example exactly once */
import type { Command } from 'commander';
import { buildVcrSubmissionFiles } from '../../../eval/submit/index.js';
import { action, subcommand } from '../../cli.js';
import { runSubmission } from './run.js';

export function registerVcrSubmit(group: Command): void {
  subcommand(group, 'vcr', 'VCR leaderboard CSV (annot_id, answer_0..3, rationale_conditioned_on_a{i}_{j}), every example exactly once', 'vlkit submit vcr --predictions test_probs.json --questions test.jsonl --out vcr_submission.csv')
    .requiredOption('--predictions <file>', 'predictions: [{"annot_id": str, "answer_probs": [4], "rationale_probs": [[4] x 4]}]')
    .requiredOption('--questions <file>', 'VCR test.jsonl (the required annot_ids)')
    .requiredOption('--out <path>', 'output file, or a directory to get the leaderboard file name')
    .option('--force', 'write the valid records even when problems were found')
    .action(
      action('submit vcr', async (flags: { predictions: string; questions: string; out: string; force?: boolean }) =>
        runSubmission('vcr', buildVcrSubmissionFiles(flags), flags.force ?? false),
      ),
    );
}
