/** `vlkit eval vcr`: Q→A, QA→R and Q→AR accuracies as VL-BERT's vcr/val.py. */
import type { Command } from 'commander';
import { evaluateVcrFiles } from '../../../eval/vcr.js';
import { action, subcommand } from '../../cli.js';
import { emitMetrics, formatRows } from './emit.js';

export function registerVcr(group: Command): void {
  subcommand(group, 'vcr', 'VCR Q->A, QA->R, Q->AR accuracy from answer and rationale logits (VL-BERT val.py)', 'vlkit eval vcr --annotations val.jsonl --answer-logits run_a_pred.npy --rationale-logits run_r_pred.npy --json')
    .requiredOption('--annotations <file>', 'VCR val.jsonl (answer_label, rationale_label per line)')
    .requiredOption('--answer-logits <file>', 'N×4 answer logits in annotation order (.npy, .json, .csv)')
    .requiredOption('--rationale-logits <file>', 'N×4 rationale logits in annotation order')
    .option('--json', 'print exactly one JSON object on stdout')
    .option('--out <file>', 'also write the metrics JSON to this file')
    .action(
      action('eval vcr', async (flags: { annotations: string; answerLogits: string; rationaleLogits: string; json?: boolean; out?: string }) => {
        const m = evaluateVcrFiles(flags.annotations, flags.answerLogits, flags.rationaleLogits);
        const pct = (x: number) => (x * 100).toFixed(1);
        const table = `VCR (${m.numQuestions} questions), accuracy in %\n` + formatRows([['Q->A', pct(m['Q->A'])], ['QA->R', pct(m['QA->R'])], ['Q->AR', pct(m['Q->AR'])]]);
        await emitMetrics('vcr', m, table, [], flags);
      }),
    );
}
