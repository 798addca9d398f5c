/**
 * Benchmark: `vlkit eval captions` (BLEU-1..4 + ROUGE-L + CIDEr-D, built-in PTB tokenizer) against the official
 * pycocoevalcap pipeline (Python + Java PTBTokenizer) on the same synthetic 5,000 images × 5 references.
 *
 *   node dist/bench/eval-captions.js [--images 5000]
 *   PYCOCOEVALCAP_DIR=/path/containing/pycocoevalcap node dist/bench/eval-captions.js   # with the baseline
 *
 * PYCOCOEVALCAP_DIR is a folder holding the `pycocoevalcap` package (with tokenizer/stanford-corenlp-3.4.1.jar);
 * PYTHON picks the interpreter (default /usr/bin/python3). Both sides run as child processes under
 * /usr/bin/time for wall time and peak RSS; the metrics must agree exactly.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SELF = fileURLToPath(import.meta.url);
const args = process.argv.slice(2);

// `--lib GT RES`: run the library function in this process (no CLI start-up) and print the metrics.
if (args[0] === '--lib') {
  const { evaluateCaptionFiles } = await import('../eval/captions/evaluate.js');
  const r = await evaluateCaptionFiles(args[1]!, args[2]!);
  process.stdout.write(JSON.stringify(r.metrics) + '\n');
  process.exit(0);
}
const nImages = Number(args[args.indexOf('--images') + 1] ?? 5000) || 5000;

// Deterministic captions with the punctuation, numbers, contractions and abbreviations real captions have.
let seed = 12345;
const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
const pick = <T>(a: T[]): T => a[Math.floor(rnd() * a.length)]!;
const SUBJ = ['A man', 'a woman', 'Two dogs', 'The cat', 'A little girl', "A man's dog", 'Mr. Smith', 'A well-known chef', 'People', 'A U.S. soldier', 'Three kids', 'A red double-decker bus'];
const VERB = ['is sitting on', 'are playing with', "can't reach", 'holds', 'is riding', 'looks at', 'cannot see', "it's on", 'jumps over', 'stands by'];
const OBJ = ['a bench.', 'the frisbee!', 'a large pizza...', 'an umbrella?', 'a kite (blue).', 'a 10:30 train', '$5 bills', '1,000 balloons', 'a hot-dog stand', 'the sign "STOP"', 'a cake -- with candles', 'two slices of pizza; one is eaten', 'a cell phone w/ case', 'an ice-cream cone'];
const TAIL = ['', '', ' in the park', ' near a building.', ' at night', ', smiling', ' on a sunny day', ' in the U.S.', ' (probably)'];
const caption = () => `${pick(SUBJ)} ${pick(VERB)} ${pick(OBJ)}${pick(TAIL)}`;

const dir = mkdtempSync(path.join(os.tmpdir(), 'vlkit-bench-captions-'));
const gt = path.join(dir, 'gt.json');
const res = path.join(dir, 'res.json');
const images = Array.from({ length: nImages }, (_, i) => ({ id: 100000 + i }));
const annotations = images.flatMap((im, i) => Array.from({ length: 5 }, (_, k) => ({ id: i * 5 + k + 1, image_id: im.id, caption: caption() })));
writeFileSync(gt, JSON.stringify({ images, annotations }));
writeFileSync(res, JSON.stringify(images.map((im) => ({ image_id: im.id, caption: caption() }))));

interface Run {
  seconds: number;
  rssMiB: number | null;
  metrics: Record<string, number | null>;
}

function timed(cmd: string, argv: string[], env: NodeJS.ProcessEnv = {}): Run {
  const haveTime = existsSync('/usr/bin/time');
  const t0 = process.hrtime.bigint();
  const r = haveTime
    ? spawnSync('/usr/bin/time', ['-f', 'VLKIT_BENCH_RSS_KB=%M', cmd, ...argv], { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 26 })
    : spawnSync(cmd, argv, { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 26 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${r.stderr}`);
  const rss = /VLKIT_BENCH_RSS_KB=(\d+)/.exec(r.stderr ?? '');
  return { seconds, rssMiB: rss ? Number(rss[1]) / 1024 : null, metrics: JSON.parse(r.stdout) as Record<string, number | null> };
}

try {
  process.stderr.write(`captions bench: ${nImages} images × 5 references (${dir})\n`);
  const ours = timed(process.execPath, [path.join(REPO, 'dist/bin/vlkit.js'), 'eval', 'captions', '--annotations', gt, '--results', res, '--json']);
  const fmt = (r: Run) => `${r.seconds.toFixed(2)} s, peak RSS ${r.rssMiB === null ? 'n/a' : r.rssMiB.toFixed(0) + ' MiB'}`;
  const lib = timed(process.execPath, [SELF, '--lib', gt, res]);
  console.log(`vlkit eval captions (CLI): ${fmt(ours)}`);
  console.log(`vlkit library call:        ${fmt(lib)}`);
  const base = process.env.PYCOCOEVALCAP_DIR;
  if (!base || !existsSync(path.join(base, 'pycocoevalcap'))) {
    console.log('baseline skipped: set PYCOCOEVALCAP_DIR to a folder containing the pycocoevalcap package (with its PTB jar)');
  } else {
    const py = process.env.PYTHON ?? '/usr/bin/python3';
    const theirs = timed(py, [path.join(REPO, 'bench/pycocoevalcap-baseline.py'), gt, res], { PYTHONPATH: base });
    console.log(`pycocoevalcap (py + java): ${fmt(theirs)}`);
    const keys = ['Bleu_1', 'Bleu_2', 'Bleu_3', 'Bleu_4', 'ROUGE_L', 'CIDEr'];
    const same = keys.every((k) => ours.metrics[k] === theirs.metrics[k]);
    for (const k of keys) console.log(`  ${k.padEnd(8)} vlkit ${ours.metrics[k]}  official ${theirs.metrics[k]}`);
    const sameLib = keys.every((k) => lib.metrics[k] === theirs.metrics[k]);
    console.log(`speed-up: CLI ${(theirs.seconds / ours.seconds).toFixed(1)}x, library ${(theirs.seconds / lib.seconds).toFixed(1)}x; metrics ${same && sameLib ? 'identical' : 'DIFFER'}`);
    if (!same || !sameLib) process.exitCode = 1;
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
