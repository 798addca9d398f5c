/**
 * `validate` under the shard contract. The manifest is the input listing exactly as `validateCollection` walks it
 * (directories in byte order, list files in their order, repeats dropped), so shard reports concatenated in shard
 * order are the report of one process: the report is in input order and each line depends on its file only.
 * A shard runs `validateCollection` itself on a list file of its slice (absolute paths, so `path` is unchanged).
 */
import { promises as fsp, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { commitTmp, tmpPathFor, writeFileAtomic, writeFileAtomicWith } from '../../common/atomic.js';
import { UsageError } from '../../common/errors.js';
import { IMAGE_EXTENSIONS, listInputs } from '../../common/inputs.js';
import { readReport } from '../validate/report.js';
import { validateCollection, type ValidateOptions } from '../validate/run.js';
import { SummaryBuilder } from '../validate/summary.js';
import { makePlan, shardName, type Plan, type StageAdapter } from './contract.js';

interface ValidatePlanOptions {
  inputs: string[];
  report: string;
  workers: number;
  maxPixels?: number;
  timeoutMs?: number;
  maxFileBytes?: number;
}

export async function planValidate(opts: ValidateOptions, numShards: number): Promise<Plan> {
  if (opts.fix) throw new UsageError('--fix cannot be combined with sharding (shards see list files, not the original folders)');
  if (opts.resume) throw new UsageError('--resume cannot be combined with sharding: a shard run resumes by re-running only the shards without a done marker');
  const manifest: string[] = [];
  const seen = new Set<string>();
  for await (const f of listInputs(opts.inputs, { extensions: IMAGE_EXTENSIONS })) {
    if (seen.has(f.path)) continue;
    seen.add(f.path);
    // A shard's slice travels as a list file: one path per line, trimmed.
    if (/[\r\n]/.test(f.path) || f.path.trim() !== f.path) throw new UsageError(`${JSON.stringify(f.path)}: paths with line breaks or edge spaces cannot be sharded`);
    manifest.push(f.path);
  }
  const options: ValidatePlanOptions = {
    inputs: opts.inputs.map((p) => path.resolve(p)),
    report: path.resolve(opts.report),
    workers: opts.workers ?? 0,
    maxPixels: opts.maxPixels,
    timeoutMs: opts.timeoutMs,
    maxFileBytes: opts.maxFileBytes,
  };
  const { workers: _workers, ...hashed } = options;
  // The manifest travels in the plan: a shard must not re-walk folders that may have changed since.
  return { ...makePlan('validate', { ...options }, hashed, manifest, numShards), manifest };
}

export const validateAdapter: StageAdapter = {
  async runShard(plan, index, runDir) {
    const o = plan.options as unknown as ValidatePlanOptions;
    const [start, end] = plan.slices[index]!;
    const list = path.join(runDir, `${shardName(index)}.inputs.txt`);
    await writeFileAtomic(list, plan.manifest!.slice(start, end).map((p) => p + '\n').join(''));
    const name = `${shardName(index)}.jsonl`;
    const final = path.join(runDir, name);
    const tmp = tmpPathFor(final);
    try {
      const summary = await validateCollection({
        inputs: [list],
        report: tmp,
        workers: o.workers,
        maxPixels: o.maxPixels,
        timeoutMs: o.timeoutMs,
        maxFileBytes: o.maxFileBytes,
        overwrite: true,
      });
      await commitTmp(tmp, final);
      return { rows: summary.total, files: [name] };
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      throw err;
    }
  },

  async merge(plan, markers, runDir) {
    const report = (plan.options as unknown as ValidatePlanOptions).report;
    await writeFileAtomicWith(report, (fd) => {
      for (const m of markers) for (const f of m.files) writeAll(fd, readFileSync(path.join(runDir, f.name)));
    });
    const builder = new SummaryBuilder();
    await readReport(report, (line) => builder.add(line));
    const summary = builder.build(report);
    return { outputs: [report], rows: summary.total, exitCode: summary.bad > 0 ? 1 : 0, summary };
  },
};

function writeAll(fd: number, buf: Buffer): void {
  let done = 0;
  while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done);
}
