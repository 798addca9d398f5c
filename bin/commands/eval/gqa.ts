/** `vlkit eval gqa`: the official GQA eval.py metrics; the ones whose extra files are absent are reported as null. */
import type { Command } from 'commander';
import { evaluateGqaFiles, type GqaFiles, type GqaMetrics, type TypeAccuracy } from '../../../eval/gqa.js';
import { action, intFlag, subcommand } from '../../cli.js';
import { emitMetrics, formatRows } from './emit.js';

/** The evaluator's inputs, plus the output flags (commander fills the optional ones only when given). */
interface GqaFlags extends GqaFiles {
  mapSize: number;
  json?: boolean;
  out?: string;
}

/**
 * Python's '{:.2f}' (what eval.py prints): correctly rounded with ties to even on the exact binary value, where
 * toFixed breaks ties upwards (3.125 → "3.12" in Python, "3.13" from toFixed).
 */
export function pyFixed2(x: number): string {
  const exact = x.toFixed(60); // every double below 2^53 with ≤ 60 fractional digits is exact here
  const [int, frac] = exact.split('.') as [string, string];
  if (frac[2] === '5' && /^0*$/.test(frac.slice(3))) {
    const down = `${int}.${frac.slice(0, 2)}`;
    return Number(frac[1]) % 2 === 0 ? down : x.toFixed(2);
  }
  return x.toFixed(2);
}

function fmt(x: number | null, note: string | undefined, suffix = '%'): string {
  return x === null ? `- (${note})` : `${pyFixed2(x)}${suffix}`;
}

function typeRows(title: string, m: Record<string, TypeAccuracy>, numeric: boolean): string {
  const keys = Object.keys(m).sort(numeric ? (a, b) => Number(a) - Number(b) : undefined);
  return `${title}:\n` + formatRows(keys.map((k) => [k, `${pyFixed2(m[k]!.accuracy)}% (${m[k]!.count} questions)`]), '  ');
}

function table(m: GqaMetrics): string {
  const rows: [string, string][] = [
    ['binary', fmt(m.binary, m.notes.binary)],
    ['open', fmt(m.open, m.notes.open)],
    ['accuracy', fmt(m.accuracy, undefined)],
    ['consistency', fmt(m.consistency, m.notes.consistency)],
    ['validity', fmt(m.validity, m.notes.validity)],
    ['plausibility', fmt(m.plausibility, m.notes.plausibility)],
    ['grounding', fmt(m.grounding, m.notes.grounding)],
    ['distribution', fmt(m.distribution, m.notes.distribution, ' (lower is better)')],
  ];
  return (
    `GQA (${m.numQuestions} balanced questions)\n` +
    formatRows(rows) +
    typeRows('accuracy / structural type', m.perStructuralType, false) +
    typeRows('accuracy / semantic type', m.perSemanticType, false) +
    typeRows('accuracy / steps number', m.perSteps, true) +
    typeRows('accuracy / words number', m.perLength, true)
  );
}

export function registerGqa(group: Command): void {
  subcommand(
    group,
    'gqa',
    'GQA accuracy, binary/open, and (given their files) validity, plausibility, consistency, grounding; distribution',
    'vlkit eval gqa --questions testdev_balanced_questions.json --predictions testdev_balanced_predictions.json --json',
  )
    .requiredOption('--questions <file>', 'GQA questions {questionId: question}; the balanced ones (isBalanced) are scored')
    .requiredOption('--predictions <file>', 'predictions [{"questionId": str, "prediction": str}]')
    .option('--choices <file>', '<split>_choices.json: enables validity and plausibility')
    .option('--all-questions <file>', '<split>_all_questions.json: enables consistency (entailed questions need predictions too)')
    .option('--scene-graphs <file>', '<split>_sceneGraphs.json: with --attentions enables grounding')
    .option('--attentions <file>', 'attentions [{"questionId": str, "attention": [[...] x mapSize] or [[x0,y0,x1,y1,a], ...]}]')
    .option('--object-features', 'attentions are object-based [x0, y0, x1, y1, attention] rows instead of a spatial map')
    .option('--map-size <n>', 'spatial attention map size (mapSize x mapSize)', intFlag('--map-size', 1, 1000), 7)
    .option('--json', 'print exactly one JSON object on stdout')
    .option('--out <file>', 'also write the metrics JSON to this file')
    .action(
      action('eval gqa', async (flags: GqaFlags) => {
        const metrics = evaluateGqaFiles({
          questions: flags.questions,
          predictions: flags.predictions,
          choices: flags.choices,
          sceneGraphs: flags.sceneGraphs,
          allQuestions: flags.allQuestions,
          attentions: flags.attentions,
          objectFeatures: flags.objectFeatures,
          mapSize: flags.mapSize,
        });
        await emitMetrics('gqa', metrics, table(metrics), [], flags);
      }),
    );
}
