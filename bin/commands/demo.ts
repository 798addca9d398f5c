/**
 * `vlkit demo`: the main job end to end on the data bundled in data/demo/: validate a miniature COCO-Karpathy
 * collection (real photos plus broken files), write its ViLT Arrow caption dataset without the images validation
 * rejected, and say what was made and where. Later stages (features, training, evaluation) join the demo as they
 * land.
 */
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { EXIT_OK, UsageError } from '../../common/errors.js';
import { resolveLogFormat } from '../../common/progress.js';
import { writeArrowDataset } from '../../pipeline/arrow/index.js';
import { validateCollection } from '../../pipeline/validate/run.js';
import { formatSummary } from '../../pipeline/validate/summary.js';
import { action, subcommand } from '../cli.js';
import type { Register } from './index.js';

/** data/demo/coco in the package (dist/bin/commands/ is three levels below the package root). */
const MARKER = '.vlkit-demo';

export const DEMO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../data/demo/coco');

export const registerDemo: Register = (program: Command) => {
  subcommand(program, 'demo', 'run validate → arrow end to end on the bundled demo data and show the results', 'vlkit demo --out vlkit-demo')
    .option('--out <dir>', 'where the demo writes its outputs (replaced if it exists)', 'vlkit-demo')
    .option('--log-format <format>', 'progress on stderr: auto, bar, json, none', 'none')
    .action(
      action('demo', async (flags: { out: string; logFormat: string }): Promise<number> => {
        const logFormat = resolveLogFormat(flags.logFormat);
        const out = path.resolve(flags.out);
        const report = path.join(out, 'valid.jsonl');
        const arrowDir = path.join(out, 'arrow');
        // The demo is a fixed recipe: start from a clean folder so a second run shows the same thing. Only a folder
        // an earlier demo made (it carries a marker) is ever removed: `--out ~` must not wipe a home directory.
        const marker = path.join(out, MARKER);
        if (existsSync(out)) {
          if ((await fsp.readdir(out)).length > 0 && !existsSync(marker)) {
            throw new UsageError(`--out ${flags.out} exists and was not made by vlkit demo: choose another folder`);
          }
          await fsp.rm(out, { recursive: true });
        }
        await fsp.mkdir(out, { recursive: true });
        await fsp.writeFile(marker, 'made by vlkit demo; the next demo run replaces this folder\n');
        const say = (s: string) => process.stdout.write(s + '\n');

        say(`vlkit demo: bundled data in ${DEMO_ROOT}\n`);
        say(`1. vlkit validate ${DEMO_ROOT} --report ${report}`);
        const summary = await validateCollection({ inputs: [DEMO_ROOT], report, logFormat });
        process.stdout.write(formatSummary(summary).replace(/^(?=.)/gm, '   ') + '\n');
        say(`   → ${report}: one JSON line per image (format, size after EXIF orientation, sha256, error class)\n`);

        say(`2. vlkit arrow coco --root ${DEMO_ROOT} --out ${arrowDir} --valid-report ${report}`);
        const result = await writeArrowDataset({ dataset: 'coco', root: DEMO_ROOT, out: arrowDir, validReport: report, logFormat });
        say(`   dropped ${result.dropped.invalid.rows} rows whose images validation marked bad`);
        for (const f of result.files) say(`   → ${f.path}: ${f.rows} rows, ${f.bytes} bytes`);
        for (const f of result.sideFiles) say(`   → ${f}`);
        say(`\nRead a file back with: vlkit arrow inspect ${result.files[0]?.path ?? path.join(arrowDir, '<file>.arrow')}`);
        say(`(pyarrow: pa.ipc.RecordBatchFileReader(pa.memory_map(path)).read_all(), as ViLT's BaseDataset does)`);
        return EXIT_OK;
      }),
    );
};
