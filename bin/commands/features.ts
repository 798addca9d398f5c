/** `vlkit features merge|convert|show`: work with LXMERT feature TSVs and vlkit feature stores (features/README.md). */
import path from 'node:path';
import { Option, type Command } from 'commander';
import { EXIT_OK, InputError, UsageError } from '../../common/errors.js';
import { Logger, resolveLogFormat } from '../../common/progress.js';
import { drawBoxes, findRow, readVocab } from '../../features/draw.js';
import { imgIdOf } from '../../features/inputs.js';
import { mergeTsvs, type OnDuplicate } from '../../features/merge.js';
import { convertTsvToStore } from '../../features/store.js';
import { action, intFlag, subcommand } from '../cli.js';
import type { Register } from './index.js';

export const registerFeatures: Register = (program: Command) => {
  const group = program
    .command('features')
    .description('merge feature TSVs, convert them to a fast random-access store, draw their boxes')
    .addHelpText('after', '\nExample:\n  $ vlkit features convert val2014_obj36.tsv --out val2014_obj36.store\n');

  subcommand(group, 'merge', 'concatenate feature TSVs (shards) into one, refusing or dropping duplicate img_ids', 'vlkit features merge part0.tsv part1.tsv --out all.tsv')
    .argument('<tsv...>', 'input TSVs, concatenated in this order')
    .requiredOption('--out <file>', 'merged TSV (written atomically)')
    .addOption(new Option('--on-duplicate <what>', 'a repeated img_id is an error, or later copies are dropped').choices(['error', 'drop']).default('error'))
    .addOption(new Option('--log-format <format>', 'log lines on stderr').choices(['auto', 'bar', 'json', 'none']).default('auto'))
    .action(
      action('features merge', async (inputs: string[], flags: { out: string; onDuplicate: OnDuplicate; logFormat: string }) => {
        const logger = new Logger(resolveLogFormat(flags.logFormat));
        const report = await mergeTsvs(inputs, flags.out, flags.onDuplicate);
        for (const d of report.dropped) logger.warn(`dropped duplicate img_id '${d.imgId}' at ${d.file}:${d.line} (first in ${d.firstIn})`);
        process.stdout.write(JSON.stringify({ out: flags.out, rows: report.rows, duplicates_dropped: report.dropped.length }) + '\n');
        return EXIT_OK;
      }),
    );

  subcommand(group, 'convert', 'TSV → feature store (flat binary + index, random access by img_id, shared page cache)', 'vlkit features convert train_obj36.tsv --out train_obj36.store')
    .argument('<tsv>', 'feature TSV')
    .requiredOption('--out <dir>', 'store directory (replaced atomically)')
    .option('--topk <n>', 'only the first n rows, like LXMERT load_obj_tsv(topk)', intFlag('--topk', 1))
    .action(
      action('features convert', async (tsv: string, flags: { out: string; topk?: number }) => {
        const t0 = performance.now();
        const r = await convertTsvToStore(tsv, flags.out, { topk: flags.topk });
        process.stdout.write(JSON.stringify({ out: flags.out, rows: r.rows, dim: r.dim, seconds: Number(((performance.now() - t0) / 1000).toFixed(3)) }) + '\n');
        return EXIT_OK;
      }),
    );

  subcommand(group, 'show', "draw one image's boxes with class/attribute names and scores", 'vlkit features show val.tsv --image val2014/COCO_val2014_000000000042.jpg --out 42.png --vocab objects_vocab.txt --attr-vocab attributes_vocab.txt --top 20')
    .argument('<tsv>', 'feature TSV holding the image')
    .requiredOption('--image <file>', 'the image (its img_id is the file name without extension unless --id)')
    .requiredOption('--out <png>', 'output PNG')
    .option('--id <img_id>', 'img_id of the image in the TSV')
    .option('--vocab <file>', 'object names, one per line (objects_id = line number from 0)')
    .option('--attr-vocab <file>', 'attribute names, one per line')
    .option('--top <k>', 'draw the k boxes with the highest class score', intFlag('--top', 1))
    .action(
      action('features show', async (tsv: string, flags: { image: string; out: string; id?: string; vocab?: string; attrVocab?: string; top?: number }) => {
        const id = flags.id ?? imgIdOf(path.basename(flags.image), 'name');
        const row = await findRow(tsv, id);
        if (!row) throw new InputError(tsv, `no row with img_id '${id}'${flags.id ? '' : ' (pass --id if the TSV uses other ids)'}`);
        if (row.numBoxes === 0) throw new UsageError(`row '${id}' has no boxes`);
        const drawn = await drawBoxes(flags.image, row, flags.out, {
          vocab: flags.vocab ? readVocab(flags.vocab) : undefined,
          attrVocab: flags.attrVocab ? readVocab(flags.attrVocab) : undefined,
          top: flags.top,
        });
        process.stdout.write(JSON.stringify({ out: flags.out, img_id: id, boxes_drawn: drawn }) + '\n');
        return EXIT_OK;
      }),
    );
};
