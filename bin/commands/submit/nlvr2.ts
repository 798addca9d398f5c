/** `vlkit submit nlvr2`: NLVR2 predictions CSV (identifier,True|False, no header), every example exactly once */
import type { Command } from 'commander';
import { buildNlvr2SubmissionFiles } from '../../../eval/submit/index.js';
import { action, subcommand } from '../../cli.js';
import { runSubmission } from './run.js';

export function registerNlvr2Submit(group: Command): void {
  subcommand(group, 'nlvr2', 'NLVR2 predictions CSV (identifier,True|False, no header), every example exactly once', 'vlkit submit nlvr2 --predictions test1_predict.json --questions test1.json --out test1_predictions.csv')
    .requiredOption('--predictions <file>', 'predictions: JSON [{"identifier", "prediction": bool|"True"|"False"}], {"<identifier>": bool}, or an identifier,prediction CSV')
    .requiredOption('--questions <file>', 'NLVR2 examples file, JSON lines with "identifier"')
    .requiredOption('--out <path>', 'output file, or a directory to get the leaderboard file name')
    .option('--force', 'write the valid records even when problems were found')
    .action(
      action('submit nlvr2', async (flags: { predictions: string; questions: string; out: string; force?: boolean }) =>
        runSubmission('nlvr2', buildNlvr2SubmissionFiles(flags), flags.force ?? false),
      ),
    );
}
