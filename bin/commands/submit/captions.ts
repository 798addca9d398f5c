/** `vlkit submit captions`: COCO caption results json [{"image_id": int, "caption": str}] + zip, every image exactly once */
import type { Command } from 'commander';
import { buildCaptionsSubmissionFiles } from '../../../eval/submit/index.js';
import { action, subcommand } from '../../cli.js';
import { runSubmission } from './run.js';

export function registerCaptionsSubmit(group: Command): void {
  subcommand(group, 'captions', 'COCO caption results json [{"image_id": int, "caption": str}] + zip, every image exactly once', 'vlkit submit captions --predictions captions.json --questions image_info_test2014.json --name mymodel --out submission/')
    .requiredOption('--predictions <file>', 'predictions: [{"image_id": int, "caption": str}] or {"<image_id>": caption}')
    .requiredOption('--questions <file>', 'COCO image-info or caption annotation file with "images" (the required image ids)')
    .requiredOption('--out <path>', 'output file, or a directory to get the leaderboard file name')
    .option('--name <name>', 'method name in the file name captions_<split>_<name>_results.json', 'vlkit')
    .option('--split <split>', 'split in the file name (val2014, test2014)', 'test2014')
    .option('--force', 'write the valid records even when problems were found')
    .action(
      action('submit captions', async (flags: { predictions: string; questions: string; out: string; force?: boolean; name: string; split: string }) =>
        runSubmission('captions', buildCaptionsSubmissionFiles(flags), flags.force ?? false),
      ),
    );
}
