/**
 * `extract` under the shard contract. A shard is `extractFeatures` with its existing `--shard i/N` slice (the same
 * contiguous formula as the plan) written to a fresh temporary TSV; the merge is `vlkit features merge`'s
 * mergeTsvs, which gives the bytes of an unsharded run because rows are written in input order.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { commitTmp, tmpPathFor } from '../../common/atomic.js';
import { InputError, UsageError } from '../../common/errors.js';
import { extractFeatures, type ExtractOptions } from '../../features/extract.js';
import { listImages } from '../../features/inputs.js';
import { mergeTsvs } from '../../features/merge.js';
import { makePlan, shardName, type Plan, type StageAdapter } from './contract.js';

type ExtractPlanOptions = Omit<ExtractOptions, 'shard' | 'logFormat' | 'fsyncIntervalMs'>;

export async function planExtract(opts: ExtractOptions, numShards: number): Promise<Plan> {
  if (opts.shard) throw new UsageError('--shard i/N and --shards/--num-shards are two ways of saying the same thing: give one');
  const items = await listImages(opts.images, opts.idFrom);
  const options: ExtractPlanOptions = {
    model: path.resolve(opts.model),
    images: opts.images.map((p) => path.resolve(p)),
    out: path.resolve(opts.out),
    select: opts.select,
    ep: opts.ep,
    batch: opts.batch,
    workers: opts.workers,
    prefetch: opts.prefetch,
    idFrom: opts.idFrom,
    names: opts.names,
    boxesFrom: opts.boxesFrom === undefined ? undefined : path.resolve(opts.boxesFrom),
  };
  // Thread counts and read-ahead do not change a byte of the output; everything else (batch included) may.
  const { workers: _w, prefetch: _p, ...hashed } = options;
  return makePlan('extract', { ...options }, hashed, items.map((it) => `${it.id}\t${it.path}`), numShards);
}

export const extractAdapter: StageAdapter = {
  async runShard(plan, index, runDir) {
    const o = plan.options as unknown as ExtractPlanOptions;
    const name = `${shardName(index)}.tsv`;
    const final = path.join(runDir, name);
    const tmp = tmpPathFor(final);
    try {
      const summary = await extractFeatures({ ...o, out: tmp, shard: { index, count: plan.num_shards }, logFormat: 'none' });
      if (summary.listed !== plan.items) {
        throw new InputError(o.images.join(', '), `lists ${summary.listed} images now, ${plan.items} when run ${plan.run} was planned: inputs changed under a running job`);
      }
      await commitTmp(tmp, final);
      return { rows: summary.written, files: [name], failures: summary.failed };
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      throw err;
    }
  },

  async merge(plan, markers, runDir) {
    const out = (plan.options as unknown as ExtractPlanOptions).out;
    const files = markers.flatMap((m) => m.files.map((f) => path.join(runDir, f.name)));
    const merged = await mergeTsvs(files, out, 'error');
    const failures = markers.flatMap((m) => m.failures ?? []);
    return { outputs: [out], rows: merged.rows, exitCode: failures.length > 0 ? 1 : 0, summary: { out, rows: merged.rows, failed: failures.length, failures } };
  },
};
