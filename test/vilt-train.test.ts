/**
 * The ViLT/VLC-style trainer end to end through the real CLI on a synthetic dataset (coloured shapes drawn with
 * sharp, captions and questions about them, written by `writeArrowDataset`): the Arrow reader against the bytes on
 * disk, VLC-style pre-training (MLM + ITM + MAE) lowering its MLM and MAE losses, ViLT-style pre-training lowering
 * MLM and ITM (matched vs swapped image–caption pairs, held-out loss well below ln 2), a tiny VQA fine-tune answering
 * held-out questions well above the best constant answer, `vlkit predict` writing the VQA submission through eval/submit,
 * and a retrieval fine-tune loaded from the pre-training run
 * (load_path) whose predict prints recall@1/5/10.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ArrowRowFile } from '../train/vilt/arrow-reader.js';
import { runCli, tempDir } from './helpers.js';
import { buildNlvr2Synthetic, buildSynthetic, type SynthDataset } from './vilt-synthetic.js';

const work = tempDir('vlkit-vilt-');
let ds: SynthDataset;
const pre = path.join(work, 'pre');
const vqa = path.join(work, 'vqa');

interface LogLine {
  step: number;
  [k: string]: unknown;
}
const logOf = (dir: string): LogLine[] =>
  readFileSync(path.join(dir, 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as LogLine);

async function cli(args: string[]): Promise<string> {
  const r = await runCli(args, { timeoutMs: 120_000 });
  assert.equal(r.code, 0, `vlkit ${args.slice(0, 3).join(' ')} failed:\n${r.stderr.slice(-3000)}`);
  return r.stdout;
}

test('vilt: synthetic Arrow files read back by row (small columns decoded, images by positioned reads)', async () => {
  ds = await buildSynthetic(path.join(work, 'data'), 240, 60, 20);
  const f = await ArrowRowFile.open(path.join(ds.arrow, 'coco_caption_karpathy_train.arrow'));
  try {
    assert.equal(f.rows, 240);
    assert.deepEqual(f.binaryColumns, ['image']);
    const im = ds.train[7]!;
    assert.deepEqual(f.value('caption', 7), [`a ${im.color} ${im.shape} on a white background`, `there is one ${im.color} ${im.shape} in the picture`]);
    assert.equal(f.value('image_id', 7), 'COCO_train2014_000000000008.jpg');
    // The bytes are the JPEG file the Arrow writer read; batches hold ~64 KiB so row 200 is in a later batch.
    const raw = readFileSync(path.join(work, 'data/raw/train2014/COCO_train2014_000000000201.jpg'));
    assert.ok((await f.binary('image', 200)).equals(raw));
  } finally {
    await f.close();
  }
  const v = await ArrowRowFile.open(path.join(ds.arrow, 'vqav2_rest_val.arrow'));
  try {
    assert.equal(v.rows, 60);
    assert.deepEqual(v.value('questions', 0), ['what color is the shape?', 'what shape is in the picture?']);
    assert.deepEqual(v.value('answer_scores', 0), [[1], [1]]);
  } finally {
    await v.close();
  }
});

test('vilt: VLC-style pre-training (MLM + ITM + MAE) through `vlkit train` lowers MLM and MAE losses', async () => {
  await cli([
    'train',
    '--config',
    'configs/vilt/task_mlm_itm_mae_tiny.yaml',
    '--serialization-dir',
    pre,
    '--backend',
    'wasm',
    '--log-format',
    'none',
    `data.root=${ds.arrow}`,
    'data.datasets=[coco]',
    'train.epochs=2',
    'train.max_steps=40',
    'train.lr=2e-3',
    'train.warmup=0.05',
  ]);
  const steps = logOf(pre).filter((l) => typeof l.mlm_loss === 'number');
  assert.equal(steps.length, 8); // 480 captions / 16 = 30 updates per epoch, stopped at 40, logged every 5
  const first = steps[0]!;
  const last = steps.at(-1)!;
  // MLM starts near ln(30522) = 10.3 and must fall well below it.
  assert.ok((first.mlm_loss as number) > 9.5, `first MLM loss ${first.mlm_loss}`);
  assert.ok((last.mlm_loss as number) < 6, `last MLM loss ${last.mlm_loss}`);
  assert.ok((last.mae_loss as number) < (first.mae_loss as number) * 0.9, `MAE ${first.mae_loss} → ${last.mae_loss}`);
  assert.ok(Number.isFinite(last.itm_loss as number));
  const valid = logOf(pre).filter((l) => l.valid);
  assert.deepEqual(valid.map((l) => l.step), [30, 40]); // at the end of epoch 0 and at the max_steps stop
});

test('vilt: ViLT-style pre-training (task_mlm_itm_tiny) lowers MLM and ITM, ITM well below ln 2 on held-out pairs', async () => {
  // ITM has a plateau at ln 2 before the text–image interaction forms: ~100 updates at init_std 0.08 (≥ 250 at
  // ViLT's 0.02 on this width). At mlm_weight 1 the MLM gradient dominates Adam's second moments of the shared
  // weights and ITM stays at ln 2 (300 updates tried); at 0.01 MLM's own weights still take full Adam steps — see
  // README. The epochs only stretch the linear lr decay.
  const dir = path.join(work, 'itm');
  await cli([
    'train',
    '--config',
    'configs/vilt/task_mlm_itm_tiny.yaml',
    '--serialization-dir',
    dir,
    '--backend',
    'wasm',
    '--log-format',
    'none',
    `data.root=${ds.arrow}`,
    'data.datasets=[coco]',
    'mlm_weight=0.01',
    'train.epochs=20',
    'train.max_steps=130',
    'train.lr=1e-3',
    'train.warmup=0.05',
    'train.eval_every=65',
    'train.checkpoint_every=1000',
  ]);
  const steps = logOf(dir).filter((l) => typeof l.itm_loss === 'number');
  assert.ok((steps[0]!.itm_loss as number) > 0.68, `first ITM loss ${steps[0]!.itm_loss}`);
  assert.ok((steps[0]!.mlm_loss as number) > 9.5, `first MLM loss ${steps[0]!.mlm_loss}`);
  const valid = logOf(dir)
    .filter((l) => l.valid)
    .map((l) => ({ step: l.step, ...(l.valid as { itm_loss: number; itm_acc: number; mlm_loss: number }) }));
  assert.deepEqual(valid.map((v) => v.step), [65, 130]);
  const last = valid.at(-1)!;
  assert.ok(last.mlm_loss < 3, `held-out MLM ${last.mlm_loss}`);
  assert.ok(last.itm_loss < 0.58 && last.itm_acc > 0.6, `held-out ITM ${JSON.stringify(valid)} (chance: ln 2 = 0.693, acc 0.5)`);
});

test('vilt: tiny VQA fine-tune beats the best constant answer on held-out images; predict writes the submission', async () => {
  await cli([
    'train',
    '--config',
    'configs/vilt/task_finetune_vqa_mae_randaug_tiny.yaml',
    '--serialization-dir',
    vqa,
    '--backend',
    'wasm',
    '--log-format',
    'none',
    `data.root=${ds.arrow}`,
    'data.transform=mae',
    'data.eval_max=0',
    'train.epochs=5',
    'train.lr=3e-3',
    'train.warmup=0.05',
  ]);
  // Best constant answer per question type on the held-out images (rest_val): the chance level to beat.
  const count = <T>(xs: T[]) => Math.max(...[...new Set(xs)].map((x) => xs.filter((y) => y === x).length)) / xs.length;
  const chance = (count(ds.val.map((v) => v.color)) + count(ds.val.map((v) => v.shape))) / 2;
  const best = logOf(vqa)
    .filter((l) => l.valid)
    .map((l) => (l.valid as { vqa_score: number }).vqa_score);
  assert.equal(best.length, 5);
  assert.ok(Math.max(...best) > chance + 0.15, `held-out VQA score ${best.join(', ')} vs chance ${chance.toFixed(3)}`);

  const sub = path.join(work, 'vqa_submission.json');
  const out = JSON.parse(await cli(['predict', '--serialization-dir', vqa, '--submission', sub, '--log-format', 'none'])) as { count: number; written: boolean };
  assert.equal(out.count, 40);
  assert.equal(out.written, true);
  const records = JSON.parse(readFileSync(sub, 'utf8')) as { question_id: number; answer: string }[];
  assert.equal(records.length, 40);
  const vocab = JSON.parse(readFileSync(path.join(ds.arrow, 'label2ans.json'), 'utf8')) as string[];
  for (const r of records) assert.ok(vocab.includes(r.answer) && Number.isInteger(r.question_id), JSON.stringify(r));
  assert.deepEqual(records.slice(0, 2).map((r) => r.question_id), [3010, 3011]);
});

test('vilt: retrieval fine-tune step and `vlkit predict` recall@1/5/10 on the test split', async () => {
  const dir = path.join(work, 'irtr');
  await cli([
    'train',
    '--config',
    'configs/vilt/task_finetune_irtr_coco_mae_randaug_tiny.yaml',
    '--serialization-dir',
    dir,
    '--backend',
    'wasm',
    '--log-format',
    'none',
    `data.root=${ds.arrow}`,
    `load_path=${pre}`,
    'train.max_steps=4',
    'train.eval_every=1000',
  ]);
  const r = JSON.parse(await cli(['predict', '--serialization-dir', dir, '--checkpoint', 'LAST', '--log-format', 'none'])) as Record<string, number | string>;
  assert.equal(r.split, 'test');
  assert.equal(r.numImages, 20);
  assert.equal(r.numTexts, 40);
  for (const k of ['ir_r1', 'ir_r5', 'ir_r10', 'tr_r1', 'tr_r5', 'tr_r10']) assert.ok((r[k] as number) >= 0 && (r[k] as number) <= 1, k);
  assert.ok((r.ir_r10 as number) >= (r.ir_r1 as number));
});

test('vilt: NLVR2 pair model (two passes, modality types 1 and 2) trains and `vlkit predict` writes the predictions CSV', async () => {
  const arrow = await buildNlvr2Synthetic(path.join(work, 'nlvr2-data'), { train: 32, dev: 16, test1: 12 });
  const dir = path.join(work, 'nlvr2');
  await cli([
    'train',
    '--config',
    'configs/vilt/task_finetune_nlvr2_mae_randaug_tiny.yaml',
    '--serialization-dir',
    dir,
    '--backend',
    'wasm',
    '--log-format',
    'none',
    `data.root=${arrow}`,
    `load_path=${pre}`,
    'train.epochs=1',
  ]);
  const log = logOf(dir);
  assert.ok(log.some((l) => typeof l.nlvr2_loss === 'number'));
  assert.ok(log.some((l) => l.valid && typeof (l.valid as Record<string, number>).nlvr2_acc === 'number'));
  const csv = path.join(work, 'nlvr2.csv');
  const out = JSON.parse(await cli(['predict', '--serialization-dir', dir, '--submission', csv, '--log-format', 'none'])) as { count: number; split: string };
  assert.equal(out.split, 'test');
  assert.equal(out.count, 12);
  const lines = readFileSync(csv, 'utf8').trim().split('\n');
  assert.equal(lines.length, 12);
  lines.forEach((l, i) => assert.match(l, new RegExp(`^test1-${i}-0-0,(True|False)$`)));
});
