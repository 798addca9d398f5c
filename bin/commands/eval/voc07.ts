/** `vlkit eval voc07`: per-class AP and mAP as VirTex's VOC07 linear evaluation (or the devkit's 11-point AP). */
import type { Command } from 'commander';
import { evaluateVoc07Files } from '../../../eval/voc07.js';
import { action, subcommand } from '../../cli.js';
import { emitMetrics, formatRows } from './emit.js';

export function registerVoc07(group: Command): void {
  subcommand(group, 'voc07', 'PASCAL VOC 2007 classification per-class AP and mAP (VirTex / scikit-learn AP; --11-point: devkit)', 'vlkit eval voc07 --scores test_scores.npy --labels test_labels.npy --json')
    .requiredOption('--scores <file>', 'N×C classifier scores (.npy, .json, .csv; C = 20 gets the VOC class names)')
    .requiredOption('--labels <file>', 'N×C labels in {-1, 0, 1}: 1 present, -1 absent, 0 difficult (ignored)')
    .option('--11-point', 'VOC devkit 2007 11-point interpolated AP instead of scikit-learn average precision')
    .option('--json', 'print exactly one JSON object on stdout')
    .option('--out <file>', 'also write the metrics JSON to this file')
    .action(
      action('eval voc07', async (flags: { scores: string; labels: string; '11Point'?: boolean; json?: boolean; out?: string }) => {
        const m = evaluateVoc07Files(flags.scores, flags.labels, flags['11Point'] === true);
        const rows: [string, string][] = Object.entries(m.perClass).map(([k, v]) => [k, (v * 100).toFixed(2)]);
        rows.push(['mAP', (m.mAP * 100).toFixed(2)]);
        const table = `VOC07 classification AP in % (${m.numImages} images, ${m.metric})\n` + formatRows(rows);
        await emitMetrics('voc07', m, table, [], flags);
      }),
    );
}
