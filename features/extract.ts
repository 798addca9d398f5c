/**
 * `vlkit extract`: images → LXMERT feature TSV through an ONNX detector.
 *
 * Pipeline: a Piscina pool decodes and resizes up to `prefetch` images ahead (bounded, in input order); the main
 * thread builds a batch, starts `session.run` (which executes on ONNX Runtime's own threads), and while it runs
 * selects boxes and writes the previous batch's rows. Rows are appended whole, in input order, fsync'ed every few
 * seconds; a re-run skips the img_ids already in the file after repairing a cut-off tail (resume.ts).
 */
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import os from 'node:os';
import type { InferenceSession } from 'onnxruntime-node';
import ort from 'onnxruntime-node';
import { Piscina } from 'piscina';
import { UsageError } from '../common/errors.js';
import { Logger, Progress, type LogFormat } from '../common/progress.js';
import { readBoxesFile, type GivenBoxes } from './boxes-from.js';
import { describeDetector, type DetectorIO, type DetectorNames } from './contract.js';
import { listImages, shardSlice, type IdFrom, type ImageItem, type Shard } from './inputs.js';
import { repairTsv } from './resume.js';
import { finishSelection, selectBoxes, unscaleBoxes, type SelectOptions, type Selection } from './select.js';
import { openSession, type ExecutionProvider } from './session.js';
import { encodeRow } from './tsv.js';
import type { PreparedResult } from './worker.js';

export interface ExtractOptions {
  model: string;
  images: string[];
  out: string;
  select: SelectOptions;
  ep: ExecutionProvider;
  batch: number;
  workers: number;
  /** Images decoded ahead of inference (default 2 × workers + batch). */
  prefetch?: number;
  shard?: Shard;
  idFrom: IdFrom;
  names: DetectorNames;
  boxesFrom?: string;
  logFormat: LogFormat;
  fsyncIntervalMs?: number;
}

export interface ExtractSummary {
  provider: string;
  listed: number;
  inShard: number;
  alreadyDone: number;
  written: number;
  failed: { path: string; error: string }[];
  wallS: number;
  /** Seconds between a session.run call and its result (summed). */
  sessionBusyS: number;
}

interface Ready {
  item: ImageItem;
  prep: PreparedResult;
}

type Outcome = { item: ImageItem; prep: PreparedResult } | { item: ImageItem; error: string };

type Tensor = InstanceType<typeof ort.Tensor>;

/** Pad a batch into one [B,3,H,W] tensor (zeros = the mean colour, as py-faster-rcnn's im_list_to_blob). */
function batchFeeds(batch: Ready[], io: DetectorIO, given: GivenBoxes | undefined): Record<string, Tensor> {
  const H = Math.max(...batch.map((b) => b.prep.outH));
  const W = Math.max(...batch.map((b) => b.prep.outW));
  let image: Float32Array;
  if (batch.length === 1 && batch[0]!.prep.outH === H && batch[0]!.prep.outW === W) {
    image = batch[0]!.prep.tensor;
  } else {
    image = new Float32Array(batch.length * 3 * H * W);
    batch.forEach((b, n) => {
      const { outH, outW, tensor } = b.prep;
      for (let c = 0; c < 3; c++) {
        for (let y = 0; y < outH; y++) {
          const src = (c * outH + y) * outW;
          image.set(tensor.subarray(src, src + outW), ((n * 3 + c) * H + y) * W);
        }
      }
    });
  }
  const info = new Float32Array(batch.length * 3);
  batch.forEach((b, n) => info.set([b.prep.outH, b.prep.outW, b.prep.scale], n * 3));
  const feeds: Record<string, Tensor> = {
    [io.names.image]: new ort.Tensor('float32', image, [batch.length, 3, H, W]),
    [io.names.imInfo]: new ort.Tensor('float32', info, [batch.length, 3]),
  };
  if (io.hasRoisIn) {
    // No --boxes-from: an empty rois_in tells the model to use its own proposals.
    const rows: number[] = [];
    if (given) {
      batch.forEach((b, n) => {
        const boxes = given.get(b.item.id)!;
        // py-faster-rcnn projects given boxes with `im_rois * scale` in float64, then casts to float32.
        for (let i = 0; i < boxes.length; i += 4) rows.push(n, boxes[i]! * b.prep.scale, boxes[i + 1]! * b.prep.scale, boxes[i + 2]! * b.prep.scale, boxes[i + 3]! * b.prep.scale);
      });
    }
    feeds[io.names.roisIn] = new ort.Tensor('float32', Float32Array.from(rows), [rows.length / 5, 5]);
  }
  return feeds;
}

function rowsOf(data: Float32Array, width: number, rows: number[]): Float32Array {
  const out = new Float32Array(rows.length * width);
  rows.forEach((r, i) => out.set(data.subarray(r * width, (r + 1) * width), i * width));
  return out;
}

/** Split batch outputs per image (by the batch-index column of rois) and build each image's TSV row. */
function rowsForBatch(batch: Ready[], out: InferenceSession.ReturnType, io: DetectorIO, select: SelectOptions, given: GivenBoxes | undefined): string[] {
  const get = (name: string): Tensor => {
    const t = out[name];
    if (!t) throw new Error(`the model returned no '${name}'`);
    return t as Tensor;
  };
  const rois = get(io.names.rois).data as Float32Array;
  const cls = get(io.names.clsProb);
  const feats = get(io.names.features);
  const attr = io.hasAttributes ? get(io.names.attrProb) : undefined;
  const R = rois.length / 5;
  const C = cls.dims[1]!;
  const D = feats.dims[1]!;
  const A = attr?.dims[1] ?? 0;
  const byImage: number[][] = batch.map(() => []);
  for (let r = 0; r < R; r++) {
    const n = batch.length === 1 ? 0 : rois[r * 5]!;
    const list = byImage[n];
    if (!list) throw new Error(`rois row ${r} has batch index ${n}, outside the batch of ${batch.length}`);
    list.push(r);
  }
  return batch.map((b, n) => {
    const rows = byImage[n]!;
    const myRois = rowsOf(rois, 5, rows);
    const myCls = rowsOf(cls.data as Float32Array, C, rows);
    const myAttr = attr ? rowsOf(attr.data as Float32Array, A, rows) : undefined;
    let sel: Selection;
    const userBoxes = given?.get(b.item.id);
    if (userBoxes) {
      if (rows.length !== userBoxes.length / 4) throw new Error(`${b.item.path}: ${userBoxes.length / 4} boxes given, the model returned ${rows.length}`);
      const keep = Int32Array.from(rows, (_, i) => i);
      sel = finishSelection(keep, unscaleBoxes(myRois, b.prep.scale), myCls, C, myAttr);
      sel.boxes = Float32Array.from(userBoxes);
    } else {
      sel = selectBoxes(myRois, myCls, myAttr, b.prep.scale, select);
    }
    const features = rowsOf(feats.data as Float32Array, D, Array.from(sel.keep, (k) => rows[k]!));
    return encodeRow({
      imgId: b.item.id,
      imgH: b.prep.height,
      imgW: b.prep.width,
      numBoxes: sel.keep.length,
      dim: D,
      boxes: sel.boxes,
      features,
      objectsId: sel.objectsId,
      objectsConf: sel.objectsConf,
      attrsId: sel.attrsId,
      attrsConf: sel.attrsConf,
    });
  });
}

export async function extractFeatures(opts: ExtractOptions, logger: Logger = new Logger(opts.logFormat)): Promise<ExtractSummary> {
  const all = await listImages(opts.images, opts.idFrom);
  const mine = shardSlice(all, opts.shard);
  const given = opts.boxesFrom ? readBoxesFile(opts.boxesFrom) : undefined;

  const opened = await openSession(opts.model, opts.ep);
  logger.info(opened.message, { provider: opened.provider });
  const { session } = opened;
  let io: DetectorIO;
  try {
    io = describeDetector(session, opts.names, opts.model);
  } catch (err) {
    await session.release();
    throw new UsageError((err as Error).message);
  }
  if (given && !io.hasRoisIn) {
    await session.release();
    throw new UsageError(`--boxes-from needs a model with a '${opts.names.roisIn}' input; ${opts.model} has only ${session.inputNames.join(', ')}`);
  }
  if (opts.batch > 1 && !io.dynamicBatch) {
    await session.release();
    throw new UsageError(`--batch ${opts.batch}: ${opts.model} has a fixed batch size of 1 (input '${opts.names.image}')`);
  }

  const repaired = await repairTsv(opts.out);
  for (const r of repaired.removed) logger.warn(`${opts.out}: removed ${r}`);
  const failed: ExtractSummary['failed'] = [];
  let todo = mine.filter((it) => !repaired.ids.has(it.id));
  if (given) {
    const missing = todo.filter((it) => !given.has(it.id));
    for (const it of missing) failed.push({ path: it.path, error: `no boxes for '${it.id}' in ${opts.boxesFrom}` });
    todo = todo.filter((it) => given.has(it.id));
  }
  if (repaired.rows > 0) logger.info(`${opts.out}: ${repaired.rows} rows already written, ${todo.length} images to go`);

  const summary: ExtractSummary = {
    provider: opened.provider,
    listed: all.length,
    inShard: mine.length,
    alreadyDone: mine.length - todo.length - failed.length,
    written: 0,
    failed,
    wallS: 0,
    sessionBusyS: 0,
  };
  const t0 = performance.now();
  const pool = new Piscina({
    filename: new URL('./worker.js', import.meta.url).href,
    minThreads: opts.workers,
    maxThreads: opts.workers,
  });
  const fd = openSync(opts.out, 'a');
  const progress = new Progress({ format: opts.logFormat, unit: 'images', task: 'extract', total: todo.length });
  try {
    const prefetch = Math.max(opts.prefetch ?? 2 * opts.workers + opts.batch, opts.batch);
    const queue: Promise<Outcome>[] = [];
    let next = 0;
    const fill = () => {
      while (queue.length < prefetch && next < todo.length) {
        const item = todo[next++]!;
        queue.push(
          pool.run({ path: item.path }).then(
            (prep: PreparedResult) => ({ item, prep }),
            (err: unknown) => ({ item, error: (err as Error)?.message ?? String(err) }),
          ),
        );
      }
    };
    const nextBatch = async (): Promise<Ready[] | undefined> => {
      const batch: Ready[] = [];
      while (batch.length < opts.batch) {
        fill();
        const p = queue.shift();
        if (!p) break;
        fill();
        const o = await p;
        if ('error' in o) {
          failed.push({ path: o.item.path, error: o.error });
          logger.warn(`skipped ${o.item.path}: ${o.error}`);
          progress.tick();
        } else batch.push(o);
      }
      return batch.length > 0 ? batch : undefined;
    };
    const run = async (batch: Ready[]) => {
      const feeds = batchFeeds(batch, io, given);
      const start = performance.now();
      const out = await session.run(feeds);
      summary.sessionBusyS += (performance.now() - start) / 1000;
      return { batch, out };
    };

    let lastSync = performance.now();
    const syncEvery = opts.fsyncIntervalMs ?? 2000;
    const first = await nextBatch();
    let running = first ? run(first) : undefined;
    while (running) {
      const { batch, out } = await running;
      const following = await nextBatch();
      running = following ? run(following) : undefined;
      // Selection and encoding of this batch overlap the next session.run.
      const rows = rowsForBatch(batch, out, io, opts.select, given);
      for (const row of rows) writeSync(fd, row);
      summary.written += rows.length;
      progress.tick(rows.length);
      if (performance.now() - lastSync >= syncEvery) {
        fsyncSync(fd);
        lastSync = performance.now();
      }
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
    progress.stop();
    await pool.destroy();
    await session.release();
  }
  summary.wallS = (performance.now() - t0) / 1000;
  return summary;
}

/** Default decode workers: leave one core to ONNX Runtime and the main thread. */
export function defaultWorkers(): number {
  return Math.max(1, os.availableParallelism() - 1);
}
