/** `vlkit eval refcoco`: accuracy at IoU ≥ 0.5 per split, as VL-BERT's refcoco test script. */
import type { Command } from 'commander';
import { evaluateRefcocoFiles } from '../../../eval/refcoco.js';
import { action, subcommand } from '../../cli.js';
import { emitMetrics, formatRows } from './emit.js';

export function registerRefcoco(group: Command): void {
  subcommand(group, 'refcoco', 'RefCOCO(+/g) grounding accuracy at IoU ≥ 0.5 per split (val/testA/testB), VL-BERT convention', 'vlkit eval refcoco --predictions val_refcoco+_results.json --refs refs.json --instances instances.json --json')
    .requiredOption('--predictions <file>', 'VL-BERT result json: [{"ref_id": int, "box": [x1, y1, x2, y2]}]')
    .requiredOption('--refs <file>', 'refer toolkit refs as JSON: [{"ref_id", "ann_id", "split"}] (refs(unc).p dumped to JSON)')
    .requiredOption('--instances <file>', 'refer toolkit instances.json (annotations with "id" and "bbox" [x, y, w, h])')
    .option('--json', 'print exactly one JSON object on stdout')
    .option('--out <file>', 'also write the metrics JSON to this file')
    .action(
      action('eval refcoco', async (flags: { predictions: string; refs: string; instances: string; json?: boolean; out?: string }) => {
        const m = evaluateRefcocoFiles(flags.predictions, flags.refs, flags.instances);
        const rows: [string, string][] = Object.entries(m.accuracy).map(([s, a]) => [s, a === null ? '-' : `${(a * 100).toFixed(2)}  (${m.counts[s]} refs)`]);
        rows.push(['overall', (m.overall * 100).toFixed(2)]);
        await emitMetrics('refcoco', m, 'RefCOCO accuracy at IoU >= 0.5, in %\n' + formatRows(rows), [], flags);
      }),
    );
}
