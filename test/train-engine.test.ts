/**
 * The training loop end to end on the wasm backend with a tiny embedding + MLP model (test/train-fixture-model.ts):
 * it learns; a run stopped by config or killed with SIGKILL and resumed in a new process ends bit-identical to an
 * uninterrupted one, without duplicate log steps; BEST/LAST; seeds; gradient accumulation ≡ a bigger batch.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import YAML from 'yaml';
import { UsageError } from '../common/errors.js';
import { eventFiles, loadCheckpoint, readEventFile, Rng, selectBackend, SerializationDir, train, trainConfigFrom, type LogRecord } from '../train/engine/index.js';
import { REPO, tempDir } from './helpers.js';
import { makeExamples, TinyModel, TinySource, tinyConfig } from './train-fixture-model.js';

const CHILD = path.join(REPO, 'dist/test/train-engine-child.js');
const TOTAL = 36; // 3 epochs × 96 examples / batch 8

interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run the tiny job in a child process; `killWhen` is polled and, once true, the child gets SIGKILL. */
function runChild(args: { dir: string; resume: boolean; over?: Record<string, unknown>; slowMs?: number }, killWhen?: () => boolean): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, JSON.stringify({ over: {}, ...args })], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = killWhen ? setInterval(() => killWhen() && child.kill('SIGKILL'), 20) : undefined;
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearInterval(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function readLog(dir: string): LogRecord[] {
  return readFileSync(path.join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as LogRecord);
}

const trainLines = (log: LogRecord[]) => log.filter((r) => !('valid' in r));
const bytes = (dir: string, step: number, file: string) => readFileSync(path.join(dir, `checkpoint_${step}`, file));
const pointer = (dir: string, name: string) => readFileSync(path.join(dir, name), 'utf8').trim();

/** BEST's expected target from log.jsonl: the first step with the highest validation accuracy. */
function bestFromLog(log: LogRecord[]): string {
  const valid = log.filter((l) => 'valid' in l) as Array<LogRecord & { valid: { accuracy: number } }>;
  const bestAcc = Math.max(...valid.map((v) => v.valid.accuracy));
  return `checkpoint_${valid.find((v) => v.valid.accuracy === bestAcc)!.step}`;
}

/**
 * Everything but timing must match the uninterrupted run. `stoppedAt`: the run was stopped there by train.max_steps,
 * so its log holds one validation line the uninterrupted run lacks (the final update of a run is always validated).
 */
function assertSameTraining(dir: string, ref: string, what: string, stoppedAt?: number): void {
  for (const f of ['model.safetensors', 'optimizer.safetensors']) {
    assert.ok(bytes(dir, TOTAL, f).equals(bytes(ref, TOTAL, f)), `${what}: ${f} at step ${TOTAL} is bit-identical`);
  }
  const log = readLog(dir);
  const steps = trainLines(log).map((r) => r.step);
  assert.deepEqual(steps, Array.from({ length: TOTAL }, (_, i) => i + 1), `${what}: every step logged exactly once`);
  const extra = log.filter((r) => 'valid' in r && r.step === stoppedAt);
  assert.equal(extra.length, stoppedAt === undefined ? 0 : 1, `${what}: the stop step is validated once`);
  const strip = (rs: LogRecord[]) => rs.filter((r) => !extra.includes(r)).map(({ examples_per_s: _, ...r }) => r);
  assert.deepEqual(strip(log), strip(readLog(ref)), `${what}: same losses, lr, grad norms and validation lines`);
  assert.equal(pointer(dir, 'BEST'), bestFromLog(log), `${what}: BEST = first step with the highest validation accuracy`);
  const tbSteps = eventFiles(dir).flatMap((f) => readEventFile(f)).filter((e) => e.scalars.some((s) => s.tag === 'train/loss')).map((e) => e.step);
  assert.deepEqual(tbSteps, steps, `${what}: TensorBoard has each train step once`);
}

const root = tempDir();
const ref = path.join(root, 'uninterrupted');
const refRun = runChild({ dir: ref, resume: false });

test('learns the synthetic task well above chance; serialization directory layout', async () => {
  const r = await refRun;
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout) as { step: number; backend: string; valid: { accuracy: number } };
  assert.equal(result.backend, 'wasm');
  assert.equal(result.step, TOTAL);
  const valid = readLog(ref).filter((l) => 'valid' in l).map((l) => (l.valid as { accuracy: number }).accuracy);
  assert.ok(valid[0]! < 0.8, `starts low (${valid[0]})`);
  assert.ok(result.valid.accuracy >= 0.9, `final validation accuracy ${result.valid.accuracy} (chance 1/3)`);
  const losses = trainLines(readLog(ref)).map((l) => l.loss as number);
  assert.ok(losses.slice(-6).reduce((a, b) => a + b) < losses.slice(0, 6).reduce((a, b) => a + b) / 4, 'training loss falls');
  const cfg = YAML.parse(readFileSync(path.join(ref, 'config.yaml'), 'utf8'));
  assert.equal(cfg.train.seed, 1234);
  const first = trainLines(readLog(ref))[0]!;
  assert.deepEqual(Object.keys(first), ['step', 'epoch', 'loss', 'accuracy', 'lr', 'grad_norm', 'examples_per_s']);
  assert.equal(first.lr, 0, 'warm-up starts at lr 0');
  assert.equal(eventFiles(ref).length, 1);
});

test('BEST and LAST point at complete checkpoints: BEST = first step with the highest validation accuracy', async () => {
  await refRun;
  const valid = readLog(ref).filter((l) => 'valid' in l) as Array<LogRecord & { valid: { accuracy: number } }>;
  assert.deepEqual(valid.map((v) => v.step), [4, 8, 12, 16, 20, 24, 28, 32, 36]);
  const bestAcc = Math.max(...valid.map((v) => v.valid.accuracy));
  const bestStep = valid.find((v) => v.valid.accuracy === bestAcc)!.step;
  assert.equal(pointer(ref, 'BEST'), `checkpoint_${bestStep}`);
  assert.equal(pointer(ref, 'LAST'), `checkpoint_${TOTAL}`);
  const best = await loadCheckpoint(path.join(ref, `checkpoint_${bestStep}`));
  assert.deepEqual(best.state.best, { metric: 'accuracy', value: bestAcc, step: bestStep });
  assert.equal(best.state.metrics?.accuracy, bestAcc);
  assert.deepEqual(Object.keys(best.weights).sort(), ['emb.weight', 'fc1.bias', 'fc1.weight', 'fc2.bias', 'fc2.weight', 'ln.weight']);
  const last = await loadCheckpoint(path.join(ref, `checkpoint_${TOTAL}`));
  assert.deepEqual([last.state.step, last.state.epoch, last.state.index, last.state.optimizer.step], [TOTAL, 3, 0, TOTAL]);
});

// The three runs are independent child processes: start them all now, let the tests await them.
const stoppedDir = path.join(root, 'stopped');
const stopChain = (async () => {
  const a = await runChild({ dir: stoppedDir, resume: false, over: { max_steps: 13 } });
  const lastAfterStop = pointer(stoppedDir, 'LAST');
  const b = await runChild({ dir: stoppedDir, resume: true });
  return { a, b, lastAfterStop };
})();
const killedDir = path.join(root, 'killed');
const killChain = (async () => {
  const logFile = path.join(killedDir, 'log.jsonl');
  // Kill once ~17 steps are logged: after checkpoint 15, before 20 — anywhere inside a step, a log write or a save.
  const killed = await runChild({ dir: killedDir, resume: false, slowMs: 15 }, () => existsSync(logFile) && readFileSync(logFile, 'utf8').split('\n').length > 17);
  const lastBefore = existsSync(path.join(killedDir, 'LAST')) ? pointer(killedDir, 'LAST') : null;
  const resumed = await runChild({ dir: killedDir, resume: true });
  return { killed, lastBefore, resumed };
})();

test('exact resume: stop by config at step 13 (mid-epoch), resume in a new process → bit-identical to uninterrupted', async () => {
  const { a, b, lastAfterStop } = await stopChain;
  assert.equal(a.code, 0, a.stderr);
  assert.equal(lastAfterStop, 'checkpoint_13');
  assert.equal(b.code, 0, b.stderr);
  await refRun;
  assertSameTraining(stoppedDir, ref, 'stop/resume', 13);
});

test('exact resume after kill -9 at an arbitrary point', async () => {
  const { killed, lastBefore, resumed } = await killChain;
  assert.equal(killed.signal, 'SIGKILL', `the child was killed (code ${killed.code}): ${killed.stderr}`);
  assert.match(String(lastBefore), /^checkpoint_\d+$/);
  assert.equal(resumed.code, 0, resumed.stderr);
  await refRun;
  assertSameTraining(killedDir, ref, 'kill -9/resume');
});

test('a fresh run refuses a directory that already holds one', async () => {
  await refRun;
  await selectBackend({ force: 'wasm', log: () => {} });
  const cfg = trainConfigFrom(tinyConfig());
  const model = new TinyModel(cfg.seed, makeExamples(8, 1));
  await assert.rejects(
    train({ model, data: new TinySource(makeExamples(96, 7), 8, cfg.seed), config: cfg, dir: ref }),
    (e: unknown) => e instanceof UsageError && /already holds a training run .*--resume/.test(e.message),
  );
  model.dispose();
});

async function weightsAfter(over: Record<string, unknown>, opts: { noise?: boolean; dropout?: number } = {}): Promise<Float32Array[]> {
  await selectBackend({ force: 'wasm', log: () => {} });
  const tree = tinyConfig({ eval_every: 0, checkpoint_every: 0, log_every: 100, best_metric: '', ...over });
  const cfg = trainConfigFrom(tree);
  const model = new TinyModel(cfg.seed, makeExamples(16, 99), opts.dropout ?? 0.1);
  const data = new TinySource(makeExamples(96, 7), cfg.batchSize, cfg.seed, opts.noise ?? true);
  await train({ model, data, config: cfg, dir: tempDir() });
  const out = Object.keys(model.params()).sort().map((n) => Float32Array.from(model.params()[n]!.dataSync()));
  model.dispose();
  return out;
}

test('seeds: same seed → identical weights; another seed → different data order, dropout and init', async () => {
  const a = await weightsAfter({ max_steps: 6 });
  const b = await weightsAfter({ max_steps: 6 });
  const c = await weightsAfter({ max_steps: 6, seed: 4321 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  // The generator itself: reference outputs of xoshiro128** from state [1, 2, 3, 4].
  const r = Rng.fromState([1, 2, 3, 4]);
  assert.deepEqual([r.u32(), r.u32(), r.u32()], [11520, 0, 5927040]);
  const s = Rng.from(5, 'x');
  s.u32();
  const copy = Rng.fromState(s.state());
  assert.deepEqual([s.u32(), s.u32()], [copy.u32(), copy.u32()], 'state round trip continues the stream');
});

test('train.accumulate=4 with batch 2 gives the same updates as batch 8 (within 1e-6)', async () => {
  const det = { noise: false, dropout: 0 };
  const big = await weightsAfter({ max_steps: 6, batch_size: 8, accumulate: 1 }, det);
  const acc = await weightsAfter({ max_steps: 6, batch_size: 2, accumulate: 4 }, det);
  big.forEach((w, i) => w.forEach((x, j) => assert.ok(Math.abs(x - acc[i]![j]!) <= 1e-6, `param ${i}[${j}]: ${x} vs ${acc[i]![j]}`)));
});

test('the final update is validated: max_steps=5 at 3 steps/epoch → records at steps 3 and 5, BEST the better; a resume adds none', async () => {
  await selectBackend({ force: 'wasm', log: () => {} });
  // 24 examples / batch 8 = 3 updates per epoch; validate at epoch ends only, BEST by the lowest validation loss.
  const cfg = trainConfigFrom(tinyConfig({ max_steps: 5, eval_every: 0, checkpoint_every: 0, best_metric: 'loss', best_mode: 'min' }));
  const dir = tempDir();
  const run = async (resume: boolean) => {
    const model = new TinyModel(cfg.seed, makeExamples(16, 99));
    try {
      return await train({ model, data: new TinySource(makeExamples(24, 7), 8, cfg.seed), config: cfg, dir, resume });
    } finally {
      model.dispose();
    }
  };
  const result = await run(false);
  assert.equal(result.step, 5);
  const valid = readLog(dir).filter((l) => 'valid' in l) as Array<LogRecord & { valid: { loss: number } }>;
  assert.deepEqual(valid.map((v) => [v.step, v.epoch]), [[3, 0], [5, 1]], 'epoch 0 end, then the max_steps stop inside epoch 1');
  const [at3, at5] = valid.map((v) => v.valid.loss) as [number, number];
  assert.ok(at5 < at3, `validation loss falls from step 3 (${at3}) to step 5 (${at5})`);
  assert.equal(pointer(dir, 'BEST'), 'checkpoint_5');
  assert.equal(pointer(dir, 'LAST'), 'checkpoint_5');
  const ck = await loadCheckpoint(path.join(dir, 'checkpoint_5'));
  assert.deepEqual(ck.state.best, { metric: 'loss', value: at5, step: 5 });
  assert.deepEqual(ck.state.metrics, valid[1]!.valid, 'the final checkpoint records the metrics of its own weights');
  assert.deepEqual(result.valid, valid[1]!.valid);
  const before = readFileSync(path.join(dir, 'log.jsonl'), 'utf8');
  const again = await run(true);
  assert.equal(again.step, 5);
  assert.equal(readFileSync(path.join(dir, 'log.jsonl'), 'utf8'), before, 'resuming the finished run validates nothing again');
});

test('checkpointFor: BEST/LAST pointers, BEST falling back to LAST only when asked, a directory as given', async () => {
  const sd = new SerializationDir(tempDir('vlkit-pointers-'));
  assert.equal(await sd.checkpointFor('/some/checkpoint_7', false), '/some/checkpoint_7');
  await assert.rejects(sd.checkpointFor('LAST', true), /has no LAST checkpoint$/);
  await sd.writePointer('LAST', 12);
  assert.equal(await sd.checkpointFor('LAST', false), path.join(sd.dir, 'checkpoint_12'));
  assert.equal(await sd.checkpointFor('BEST', true), path.join(sd.dir, 'checkpoint_12'));
  await assert.rejects(sd.checkpointFor('BEST', false), (e: Error) => e instanceof UsageError && /has no BEST checkpoint .*--checkpoint LAST/.test(e.message));
  await sd.writePointer('BEST', 9);
  assert.equal(await sd.checkpointFor('BEST', false), path.join(sd.dir, 'checkpoint_9'));
});
