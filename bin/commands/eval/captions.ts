/** `vlkit eval captions`: COCO caption metrics as pycocoevalcap computes them. */
import type { Command } from 'commander';
import { writeFileAtomic } from '../../../common/atomic.js';
import { evaluateCaptionFiles } from '../../../eval/captions/evaluate.js';
import { action, subcommand } from '../../cli.js';
import { emitMetrics, formatRows } from './emit.js';

interface Flags {
  annotations: string;
  results: string;
  json?: boolean;
  out?: string;
  perImage?: string;
  ptbJar?: string;
  meteorJar?: string;
  spiceJar?: string;
}

export function registerCaptions(group: Command): void {
  subcommand(
    group,
    'captions',
    'COCO caption metrics as pycocoevalcap: PTB tokenization, BLEU-1..4, ROUGE-L, CIDEr-D (+ METEOR/SPICE with your jars)',
    'vlkit eval captions --annotations captions_val2014.json --results val_results.json --json --per-image per_image.json',
  )
    .requiredOption('--annotations <file>', 'COCO captions annotations json ({images, annotations: [{image_id, caption}]})')
    .requiredOption('--results <file>', 'results json: [{"image_id": int, "caption": str}], one caption per image')
    .option('--json', 'print exactly one JSON object on stdout')
    .option('--out <file>', 'also write the metrics JSON to this file')
    .option('--per-image <file>', 'write per-image scores ([{image_id, Bleu_1, ..., CIDEr}]) to this file')
    .option('--ptb-jar <jar>', 'tokenize with the real Stanford PTBTokenizer (stanford-corenlp-3.4.1.jar) instead of the built-in one')
    .option('--meteor-jar <jar>', 'meteor-1.5.jar (with its data/ beside it): compute METEOR with java')
    .option('--spice-jar <jar>', 'spice-1.0.jar (with its lib/ beside it): compute SPICE with java')
    .action(
      action('eval captions', async (flags: Flags) => {
        const r = await evaluateCaptionFiles(flags.annotations, flags.results, flags);
        if (flags.perImage) await writeFileAtomic(flags.perImage, JSON.stringify(r.perImage) + '\n');
        const fmt = (x: number | null) => (x === null ? '-' : x.toFixed(3));
        const table =
          `COCO captions (${r.numImages} images)\n` + formatRows(Object.entries(r.metrics).map(([k, v]) => [k, fmt(v as number | null)]));
        await emitMetrics('captions', r.metrics, table, r.warnings, flags);
      }),
    );
}
