/** `vlkit eval retrieval`: image↔text recall@1/5/10 as ViLT's compute_irtr_recall counts them. */
import type { Command } from 'commander';
import { Option } from 'commander';
import { evaluateRetrievalFiles } from '../../../eval/retrieval.js';
import { action, subcommand } from '../../cli.js';
import { emitMetrics, formatRows } from './emit.js';

export function registerRetrieval(group: Command): void {
  subcommand(group, 'retrieval', 'image→text and text→image recall@1/5/10 (ViLT compute_irtr_recall)', 'vlkit eval retrieval --scores scores.npy --gt pairs.json --json')
    .requiredOption('--scores <file>', 'score matrix, rows = images, columns = texts (.npy float32/64, .arrow list column, .json, .csv)')
    .requiredOption('--gt <file>', 'pairs.json: {"image_ids": [...], "text_image_ids": [...]} or {"captions_per_image": 5}')
    .addOption(new Option('--rows <what>', 'what the score matrix rows are').choices(['images', 'texts']).default('images'))
    .option('--json', 'print exactly one JSON object on stdout')
    .option('--out <file>', 'also write the metrics JSON to this file')
    .action(
      action('eval retrieval', async (flags: { scores: string; gt: string; rows: 'images' | 'texts'; json?: boolean; out?: string }) => {
        const m = evaluateRetrievalFiles(flags.scores, flags.gt, flags.rows);
        const pct = (x: number) => (x * 100).toFixed(2);
        const table =
          `Retrieval (${m.numImages} images, ${m.numTexts} texts), recall in %\n` +
          formatRows([
            ['text retrieval  R@1 R@5 R@10', `${pct(m.tr_r1)}  ${pct(m.tr_r5)}  ${pct(m.tr_r10)}`],
            ['image retrieval R@1 R@5 R@10', `${pct(m.ir_r1)}  ${pct(m.ir_r5)}  ${pct(m.ir_r10)}`],
          ]);
        await emitMetrics('retrieval', m, table, [], flags);
      }),
    );
}
