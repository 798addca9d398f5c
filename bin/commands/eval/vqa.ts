/** `vlkit eval vqa`: VQA v2 accuracy as the official vqaEval.py computes it. */
import { Option, type Command } from 'commander';
import { evaluateVqaFiles, type VqaVersion } from '../../../eval/vqa/index.js';
import { action, subcommand } from '../../cli.js';
import { emitMetrics, formatRows, pct } from './emit.js';

interface VqaFlags {
  questions?: string;
  annotations?: string;
  results: string;
  lxmertGt?: string;
  version: VqaVersion;
  json?: boolean;
  out?: string;
}

export function registerVqa(group: Command): void {
  subcommand(
    group,
    'vqa',
    'VQA v2 accuracy (GT-Vision-Lab/VQA vqaEval.py): overall, per answer type, per question type, in percent',
    'vlkit eval vqa --questions v2_OpenEnded_mscoco_val2014_questions.json --annotations v2_mscoco_val2014_annotations.json --results val_results.json --json',
  )
    .option('--questions <file>', 'official question file (v2_OpenEnded_mscoco_<split>_questions.json)')
    .option('--annotations <file>', 'official annotation file (v2_mscoco_<split>_annotations.json)')
    .requiredOption('--results <file>', 'results: [{"question_id": int, "answer": str}] or {"<question_id>": answer}')
    .option('--lxmert-gt <file>', "LXMERT's minival.json as ground truth instead of --questions/--annotations (score = label[answer])")
    .addOption(new Option('--version <version>', 'vqaEval.py version: current (a013f00) or 2017 (a4f1afd, see README)').choices(['current', '2017']).default('current'))
    .option('--json', 'print exactly one JSON object on stdout')
    .option('--out <file>', 'also write the metrics JSON to this file')
    .action(
      action('eval vqa', async (flags: VqaFlags) => {
        const report = evaluateVqaFiles({
          questions: flags.questions,
          annotations: flags.annotations,
          results: flags.results,
          lxmertGt: flags.lxmertGt,
          version: flags.version,
        });
        const metrics = {
          overall: report.overall,
          perAnswerType: report.perAnswerType,
          perQuestionType: report.perQuestionType,
          numQuestions: report.numQuestions,
          version: report.version,
        };
        const table =
          `VQA accuracy (${report.version === 'lxmert' ? 'LXMERT soft labels' : `vqaEval.py ${report.version}`}), ${report.numQuestions} questions\n` +
          formatRows([['overall', pct(report.overall)], ...Object.entries(report.perAnswerType).map(([k, v]): [string, string] => [k, pct(v)])]) +
          'per question type:\n' +
          formatRows(Object.entries(report.perQuestionType).map(([k, v]): [string, string] => [k, pct(v)]), '  ');
        await emitMetrics('vqa', metrics, table, report.warnings, flags);
      }),
    );
}
