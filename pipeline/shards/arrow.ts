/**
 * `arrow` under the shard contract. The manifest is the dataset's planned rows (pipeline/arrow plans them from the
 * annotations); shard i writes rows [start, end) of that plan with `writeArrowDataset` itself into its own folder
 * `shard-<i>/`, every output file present (possibly empty). The merge appends each file's parts, row by row in
 * shard order, to the same streaming ArrowFileWriter with the same batch size. The writer cuts record batches by
 * the bytes of the rows appended so far, so the merged files get the batch boundaries — and the bytes — of a
 * single-process run. The cost: the merging machine reads and rewrites the whole dataset once more.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { DataType, RecordBatchReader, type Field, type Vector } from 'apache-arrow';
import { commitTmp, sweepStaleTmp, writeFileAtomic } from '../../common/atomic.js';
import { writeResolvedConfig } from '../../common/config.js';
import { InputError } from '../../common/errors.js';
import { Logger } from '../../common/progress.js';
import { readBadImages, ImageGate } from '../arrow/images.js';
import { ARROW_DEFAULTS, optionsAsConfig, planDataset, writeArrowDataset, type ArrowDatasetOptions } from '../arrow/index.js';
import { ArrowFileWriter, type ColumnType } from '../arrow/writer.js';
import { makePlan, shardName, sha256Hex, type Plan, type StageAdapter } from './contract.js';

type ArrowPlanOptions = Required<Pick<ArrowDatasetOptions, 'dataset' | 'root' | 'out' | 'shardSize' | 'skipMissing' | 'batchBytes' | 'readAhead'>> &
  Pick<ArrowDatasetOptions, 'validReport' | 'vgQa'>;

export async function planArrow(opts: ArrowDatasetOptions, numShards: number): Promise<Plan> {
  const options: ArrowPlanOptions = {
    dataset: opts.dataset,
    root: path.resolve(opts.root),
    out: path.resolve(opts.out),
    shardSize: opts.shardSize ?? ARROW_DEFAULTS.shard_size,
    validReport: opts.validReport === undefined ? undefined : path.resolve(opts.validReport),
    skipMissing: opts.skipMissing ?? false,
    vgQa: opts.vgQa === undefined ? undefined : path.resolve(opts.vgQa),
    batchBytes: opts.batchBytes ?? ARROW_DEFAULTS.batch_bytes,
    readAhead: opts.readAhead ?? ARROW_DEFAULTS.read_ahead,
  };
  const bad = options.validReport ? await readBadImages(options.validReport) : undefined;
  const gate = new ImageGate(options.root, { skipMissing: options.skipMissing, bad });
  const planned = await planDataset(options, gate, new Logger('none'));
  // One manifest key per planned row: its outputs, images and values (a digest keeps the key short).
  const manifest: string[] = [];
  for (const pass of planned.passes) {
    const names = pass.outputs.map((o) => o.name).join(',');
    for (const row of pass.rows) manifest.push(sha256Hex(JSON.stringify([names, row.images, row.values], (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))));
  }
  const { readAhead: _r, ...hashed } = options;
  return makePlan('arrow', { ...options }, hashed, manifest, numShards);
}

export const arrowAdapter: StageAdapter = {
  async runShard(plan, index, runDir) {
    const o = plan.options as unknown as ArrowPlanOptions;
    const [start, end] = plan.slices[index]!;
    const dir = shardName(index);
    const result = await writeArrowDataset({ ...o, out: path.join(runDir, dir), rows: { start, end }, logFormat: 'none' });
    const side = result.sideFiles.filter((f) => !f.endsWith('.config.yaml')).map((f) => path.basename(f));
    return { rows: end - start, files: [...result.files.map((f) => f.name), ...side].map((n) => `${dir}/${n}`) };
  },

  async merge(plan, markers, runDir) {
    const o = plan.options as unknown as ArrowPlanOptions;
    await fsp.mkdir(o.out, { recursive: true });
    await sweepStaleTmp(o.out);
    const names = markers[0]!.files.map((f) => path.basename(f.name));
    const writers: ArrowFileWriter[] = [];
    const outputs: string[] = [];
    let rows = 0;
    try {
      for (const name of names) {
        const parts = markers.map((m) => {
          const f = m.files.find((x) => path.basename(x.name) === name);
          if (!f) throw new InputError(runDir, `shard ${m.shard} has no ${name}: the shards were not cut from one plan`);
          return f;
        });
        if (!name.endsWith('.arrow')) {
          // Side files (VQAv2 vocabulary) come from the whole plan: every shard wrote the same bytes.
          if (parts.some((p) => p.sha256 !== parts[0]!.sha256)) throw new InputError(runDir, `inconsistent shard(s): ${name} differs between shards`);
          await writeFileAtomic(path.join(o.out, name), await fsp.readFile(path.join(runDir, parts[0]!.name)));
          outputs.push(path.join(o.out, name));
          continue;
        }
        let writer: ArrowFileWriter | undefined;
        for (const part of parts) {
          const handle = await fsp.open(path.join(runDir, part.name));
          try {
            const reader = await RecordBatchReader.from(handle);
            await reader.open();
            const types = reader.schema.fields.map((f: Field) => columnTypeOf(f.type as DataType, name));
            writer ??= writers[writers.push(new ArrowFileWriter(path.join(o.out, name), reader.schema.fields.map((f: Field, i) => ({ name: f.name, type: types[i]! })), { batchBytes: o.batchBytes })) - 1]!;
            for await (const batch of reader) {
              const cols = types.map((_, i) => batch.getChildAt(i)!);
              for (let r = 0; r < batch.numRows; r++) writer.append(cols.map((c, i) => valueOf(types[i]!, c.get(r))));
            }
          } finally {
            await handle.close();
          }
        }
        writer!.finish();
        rows += writer!.rows;
        outputs.push(writer!.finalPath);
      }
    } catch (err) {
      for (const w of writers) w.abort();
      throw err;
    }
    for (const w of writers) await commitTmp(w.tmpPath, w.finalPath);
    const config = path.join(o.out, `arrow-${o.dataset}.config.yaml`);
    await writeResolvedConfig(config, { arrow: optionsAsConfig(o, o) });
    const files = writers.map((w) => ({ name: path.basename(w.finalPath), rows: w.rows }));
    return { outputs: [...outputs, config], rows, exitCode: 0, summary: { dataset: o.dataset, out: o.out, files } };
  },
};

/** The writer's column type of an Arrow field (the types ArrowFileWriter writes). */
function columnTypeOf(t: DataType, file: string): ColumnType {
  if (DataType.isBinary(t)) return 'binary';
  if (DataType.isUtf8(t)) return 'string';
  if (DataType.isInt(t) && t.bitWidth === 64) return 'int64';
  if (DataType.isFloat(t)) return 'double';
  if (DataType.isNull(t)) return 'null';
  if (DataType.isList(t)) return { list: columnTypeOf(t.children[0]!.type as DataType, file) };
  throw new InputError(file, `column type ${String(t)} is not one vlkit arrow writes`);
}

/** A cell read back as the value the adapters appended (lists as arrays, int64 as bigint, binary as bytes). */
function valueOf(t: ColumnType, v: unknown): unknown {
  if (typeof t === 'object') return Array.from(v as Vector, (x) => valueOf(t.list, x));
  return v;
}
