/** `vlkit eval nlvr2`: NLVR2 accuracy and consistency as lil-lab/nlvr metrics.py computes them. */
import type { Command } from 'commander';
import { evaluateNlvr2Files } from '../../../eval/nlvr2.js';
import { action, subcommand } from '../../cli.js';
import { emitMetrics, formatRows } from './emit.js';

export function registerNlvr2(group: Command): void {
  subcommand(group, 'nlvr2', 'NLVR2 accuracy and consistency (lil-lab/nlvr metrics.py), as fractions in [0, 1]', 'vlkit eval nlvr2 --gold test1.json --predictions test1_predict.csv --json')
    .requiredOption('--gold <file>', 'gold examples: official JSON lines with "identifier" and "label" (True/False)')
    .requiredOption('--predictions <file>', 'headerless CSV of identifier,True|False (as LXMERT writes)')
    .option('--json', 'print exactly one JSON object on stdout')
    .option('--out <file>', 'also write the metrics JSON to this file')
    .action(
      action('eval nlvr2', async (flags: { gold: string; predictions: string; json?: boolean; out?: string }) => {
        const { warnings, ...metrics } = evaluateNlvr2Files(flags.gold, flags.predictions);
        const table =
          `NLVR2 (${metrics.numExamples} examples, ${metrics.numSentences} sentences)\n` +
          formatRows([
            ['accuracy', String(metrics.accuracy)],
            ['consistency', String(metrics.consistency)],
          ]);
        await emitMetrics('nlvr2', metrics, table, warnings, flags);
      }),
    );
}
