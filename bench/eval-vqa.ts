/**
 * VQA evaluation on 200k synthetic questions (10 answers each, a realistic mix of unanimous/split annotators,
 * punctuation, number words, articles): time and peak RSS of `evaluateVqaFiles` (file reading included), side by
 * side with the official vqaEval.py when a checkout of GT-Vision-Lab/VQA is given.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/eval-vqa.js [--questions 200000]
 *   VLKIT_VQA_OFFICIAL=/path/to/VQA VLKIT_PYTHON2=python2.7 node dist/bench/eval-vqa.js
 *
 * Each side runs in its own child process so the peak RSS is the evaluator's alone; CPU seconds are reported
 * beside wall seconds because on a busy machine the wall clock mostly measures the neighbours.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { evaluateVqaFiles } from '../eval/vqa/index.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');

function child(files: string[]): void {
  const [questions, annotations, results] = files as [string, string, string];
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  const r = evaluateVqaFiles({ questions, annotations, results });
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  process.stdout.write(JSON.stringify({ seconds, cpuSeconds, peakRss: process.resourceUsage().maxRSS * 1024, overall: r.overall, perAnswerType: r.perAnswerType }) + '\n');
}

function generate(dir: string, n: number): string[] {
  let seed = 12345;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x80000000;
  };
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const pools = [
    ['yes', 'no', 'Yes', 'yes.'],
    ['2', 'two', '3', 'three', '1', '0', 'none', '10'],
    ['red', 'the red one', 'red and white', 'red/white', 'blue', 'white'],
    ['dog', 'a dog', 'dogs', 'cat', 'the cat', "don't know", 'dont know'],
    ['1,000', '1000', '3.5', '10:30', 't-shirt', 'u.s.a.', 'tennis racket'],
  ];
  const types: [string, string][] = [['is the', 'yes/no'], ['how many', 'number'], ['what color is the', 'other'], ['what is the', 'other'], ['what', 'other']];
  const questions = [];
  const annotations = [];
  const results = [];
  for (let i = 0; i < n; i++) {
    const pool = pick(pools);
    const [qt, at] = pick(types);
    const unanimous = rand() < 0.35;
    const main = pick(pool);
    const answers = Array.from({ length: 10 }, (_, j) => ({ answer: unanimous || j < 5 ? main : pick(pool), answer_confidence: 'yes', answer_id: j + 1 }));
    questions.push({ image_id: i >> 2, question: 'q?', question_id: i });
    annotations.push({ question_type: qt, multiple_choice_answer: main, answers, image_id: i >> 2, answer_type: at, question_id: i });
    results.push({ question_id: i, answer: rand() < 0.6 ? main : pick(pool) });
  }
  const meta = { info: {}, task_type: 'Open-Ended', data_type: 'mscoco', data_subtype: 'val2014', license: {} };
  const files = ['questions.json', 'annotations.json', 'results.json'].map((f) => path.join(dir, f));
  writeFileSync(files[0]!, JSON.stringify({ ...meta, questions }));
  writeFileSync(files[1]!, JSON.stringify({ ...meta, annotations }));
  writeFileSync(files[2]!, JSON.stringify(results));
  return files;
}

interface Run {
  seconds: number;
  cpuSeconds: number;
  peakRss: number;
  overall: number;
  perAnswerType: Record<string, number>;
}

function run(cmd: string, args: string[]): Run {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Run;
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;

function main(): void {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') return child(argv.slice(1));
  const n = argv[0] === '--questions' ? Number(argv[1]) : 200_000;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vlkit-bench-vqa-'));
  try {
    const files = generate(dir, n);
    const ours = run(process.execPath, [fileURLToPath(import.meta.url), '--child', ...files]);
    console.log(`vlkit eval vqa: ${n} questions in ${ours.seconds.toFixed(2)} s wall / ${ours.cpuSeconds.toFixed(2)} s CPU, peak RSS ${mib(ours.peakRss)}, overall ${ours.overall}`);
    const official = process.env.VLKIT_VQA_OFFICIAL;
    if (!official) {
      console.log('official vqaEval.py baseline skipped: set VLKIT_VQA_OFFICIAL to a GT-Vision-Lab/VQA checkout (and VLKIT_PYTHON2 to a Python 2.7)');
      return;
    }
    const py = process.env.VLKIT_PYTHON2 ?? 'python2';
    const base = run(py, [path.join(REPO, 'bench/vqa_official.py'), official, ...files]);
    console.log(`official vqaEval.py (${py}): ${base.seconds.toFixed(2)} s wall / ${base.cpuSeconds.toFixed(2)} s CPU, peak RSS ${mib(base.peakRss)}, overall ${base.overall}`);
    const same = base.overall === ours.overall && Object.entries(base.perAnswerType).every(([k, v]) => ours.perAnswerType[k] === v);
    // On a shared machine wall time mostly measures the neighbours: CPU time is the fair comparison.
    console.log(`speed-up ${(base.seconds / ours.seconds).toFixed(1)}x wall, ${(base.cpuSeconds / ours.cpuSeconds).toFixed(1)}x CPU, memory ratio ${(base.peakRss / ours.peakRss).toFixed(2)}x, numbers ${same ? 'identical' : 'DIFFERENT'}`);
    if (!same) process.exitCode = 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
