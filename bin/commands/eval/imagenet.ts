/** `vlkit eval imagenet`: top-1 / top-5 accuracy. */
import type { Command } from 'commander';
import { evaluateImagenetFiles } from '../../../eval/imagenet.js';
import { action, subcommand } from '../../cli.js';
import { emitMetrics, formatRows } from './emit.js';

export function registerImagenet(group: Command): void {
  subcommand(group, 'imagenet', 'ImageNet top-1 / top-5 accuracy from class scores or ranked predictions', 'vlkit eval imagenet --predictions val_logits.npy --labels val_labels.npy --json')
    .requiredOption('--predictions <file>', 'N×C scores (.npy, .json, .csv), or with --ranked N×k class ids best first')
    .requiredOption('--labels <file>', 'N class ids, 0-based (.npy, .json array, one per line)')
    .option('--ranked', 'predictions are ranked class ids, not scores')
    .option('--json', 'print exactly one JSON object on stdout')
    .option('--out <file>', 'also write the metrics JSON to this file')
    .action(
      action('eval imagenet', async (flags: { predictions: string; labels: string; ranked?: boolean; json?: boolean; out?: string }) => {
        const m = evaluateImagenetFiles(flags.predictions, flags.labels, flags.ranked === true);
        const table = `ImageNet (${m.numImages} images), accuracy in %\n` + formatRows([['top-1', (m.top1 * 100).toFixed(2)], ['top-5', (m.top5 * 100).toFixed(2)]]);
        await emitMetrics('imagenet', m, table, [], flags);
      }),
    );
}
