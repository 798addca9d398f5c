/**
 * `vlkit arrow inspect FILE`: schema (in pyarrow's notation), row and batch counts and the first rows of an Arrow IPC
 * file, binary values shown as their length and a sha256 prefix. Batches are read one at a time, so a file of any
 * size can be inspected.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { DataType, Float, Int, List, RecordBatchReader, Type, Vector, type Schema } from 'apache-arrow';
import { InputError } from '../../common/errors.js';

/** A type as pyarrow prints it: `binary`, `string`, `int64`, `double`, `list<item: string>`. */
export function pyarrowTypeName(t: DataType): string {
  switch (t.typeId) {
    case Type.Binary:
      return 'binary';
    case Type.LargeBinary:
      return 'large_binary';
    case Type.Utf8:
      return 'string';
    case Type.LargeUtf8:
      return 'large_string';
    case Type.Null:
      return 'null';
    case Type.Bool:
      return 'bool';
    case Type.List: {
      const child = (t as List).children[0]!;
      return `list<${child.name}: ${pyarrowTypeName(child.type)}>`;
    }
    case Type.Int:
      return `${(t as Int).isSigned ? 'int' : 'uint'}${(t as Int).bitWidth}`;
    case Type.Float:
      return ['halffloat', 'float', 'double'][(t as Float).precision]!;
    default:
      return String(t).toLowerCase();
  }
}

/** A cell as JSON-friendly data; bytes become `<N bytes sha256:0123456789ab>`. */
function cell(v: unknown): unknown {
  if (v instanceof Uint8Array) return `<${v.byteLength} bytes sha256:${createHash('sha256').update(v).digest('hex').slice(0, 12)}>`;
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof Vector) return [...v].map(cell);
  return v;
}

export interface ArrowInspection {
  file: string;
  schema: { name: string; type: string }[];
  rows: number;
  batches: number;
  sample: Record<string, unknown>[];
}

export async function inspectArrowFile(file: string, sampleRows = 3): Promise<ArrowInspection> {
  let handle;
  try {
    handle = await fsp.open(file, 'r');
  } catch (err) {
    throw new InputError(file, `cannot open (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
  try {
    let reader;
    try {
      reader = await RecordBatchReader.from(handle);
      await reader.open();
    } catch (err) {
      throw new InputError(file, `not an Arrow IPC file (${(err as Error).message})`);
    }
    if (!reader.isFile()) throw new InputError(file, 'an Arrow IPC stream, not the IPC file format ViLT reads');
    const schema: Schema = reader.schema;
    let rows = 0;
    let batches = 0;
    const sample: Record<string, unknown>[] = [];
    for await (const batch of reader) {
      batches++;
      for (let r = 0; r < batch.numRows && sample.length < sampleRows; r++) {
        sample.push(Object.fromEntries(schema.fields.map((f, c) => [f.name, cell(batch.getChildAt(c)!.get(r))])));
      }
      rows += batch.numRows;
    }
    return { file, schema: schema.fields.map((f) => ({ name: f.name, type: pyarrowTypeName(f.type) })), rows, batches, sample };
  } finally {
    await handle.close();
  }
}

/** Human-readable rendering of an inspection. */
export function formatInspection(x: ArrowInspection): string {
  const lines = [`${x.file}: Arrow IPC file, ${x.rows} rows in ${x.batches} record batches`, 'schema:'];
  for (const f of x.schema) lines.push(`  ${f.name}: ${f.type}`);
  x.sample.forEach((row, i) => lines.push(`row ${i}: ${JSON.stringify(row)}`));
  return lines.join('\n') + '\n';
}
