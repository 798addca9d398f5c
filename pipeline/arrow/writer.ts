/**
 * Streaming Arrow IPC *file* writer (the format `pa.ipc.RecordBatchFileReader` opens).
 *
 * Rows are appended one at a time and flushed as a record batch whenever the batch reaches `batchBytes` (images are
 * large, so rows-per-batch would not bound memory), and the IPC bytes go straight to a file descriptor: at most one
 * batch is ever held, however many rows the file gets, and binary columns live in buffers reused across batches. The file is written under a temporary name; `finish()` leaves
 * it there complete and the caller commits it (rename) once every output of the run is done.
 *
 * Column types are the ones pyarrow infers from ViLT's pandas frames: Python bytes → `binary`, str → `string`,
 * int → `int64`, float → `double`, list → `list<item: T>` (pyarrow names the child "item"; every field nullable),
 * and a column of nothing but empty lists → `list<item: null>`. No schema metadata is written (no timestamps, no
 * versions), so the same rows always give the same bytes.
 */
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import {
  AsyncByteQueue,
  Binary,
  Data,
  DataType,
  Field,
  Float64,
  Int64,
  List,
  Null,
  RecordBatch,
  RecordBatchFileWriter,
  Schema,
  Struct,
  Utf8,
  makeData,
} from 'apache-arrow';
import { tmpPathFor } from '../../common/atomic.js';

/** A column type, written the way the adapters think about their values. */
export type ColumnType = 'binary' | 'string' | 'int64' | 'double' | 'null' | { list: ColumnType };

export interface Column {
  name: string;
  type: ColumnType;
}

export const listOf = (type: ColumnType): ColumnType => ({ list: type });

export function arrowType(t: ColumnType): DataType {
  if (typeof t === 'object') return new List(new Field('item', arrowType(t.list), true));
  switch (t) {
    case 'binary':
      return new Binary();
    case 'string':
      return new Utf8();
    case 'int64':
      return new Int64();
    case 'double':
      return new Float64();
    case 'null':
      return new Null();
  }
}

export function arrowSchema(columns: Column[]): Schema {
  return new Schema(columns.map((c) => new Field(c.name, arrowType(c.type), true)));
}

/** Approximate encoded size of one value, used only to decide when a batch is full. */
function sizeOf(t: ColumnType, v: unknown): number {
  if (typeof t === 'object') return 4 + (v as unknown[]).reduce<number>((s, x) => s + sizeOf(t.list, x), 0);
  if (t === 'binary') return 4 + (v as Uint8Array).byteLength;
  if (t === 'string') return 4 + (v as string).length * 3;
  return 8;
}

function offsetsOf(lengths: number[], what: string): Int32Array {
  const offsets = new Int32Array(lengths.length + 1);
  let total = 0;
  for (let i = 0; i < lengths.length; i++) {
    total += lengths[i]!;
    // 32-bit offsets are what `binary`/`string`/`list` mean (the large_* types are another schema); bounded batches
    // keep every batch far below this, so hitting it means batchBytes is set absurdly high.
    if (total > 0x7fffffff) throw new Error(`arrow writer: ${what} data of one batch exceeds 2 GiB; lower arrow.batch_bytes`);
    offsets[i + 1] = total;
  }
  return offsets;
}

/** Encode one column of a batch (no nulls: every vlkit value is present). */
function encode(t: ColumnType, values: unknown[]): Data {
  const type = arrowType(t);
  const length = values.length;
  if (typeof t === 'object') {
    const lists = values as unknown[][];
    const child = encode(t.list, lists.flat(1));
    return makeData({ type: type as List, length, nullCount: 0, valueOffsets: offsetsOf(lists.map((l) => l.length), 'list'), child });
  }
  switch (t) {
    case 'binary':
    case 'string': {
      const bytes = t === 'string' ? (values as string[]).map((s) => Buffer.from(s, 'utf8')) : (values as Uint8Array[]);
      const valueOffsets = offsetsOf(bytes.map((b) => b.byteLength), t);
      const data = new Uint8Array(valueOffsets[length]!);
      let at = 0;
      for (const b of bytes) {
        data.set(b, at);
        at += b.byteLength;
      }
      return t === 'string'
        ? makeData({ type: type as Utf8, length, nullCount: 0, valueOffsets, data })
        : makeData({ type: type as Binary, length, nullCount: 0, valueOffsets, data });
    }
    case 'int64': {
      const data = new BigInt64Array(length);
      values.forEach((v, i) => {
        if (typeof v === 'bigint') data[i] = v;
        else if (Number.isSafeInteger(v)) data[i] = BigInt(v as number);
        else throw new Error(`arrow writer: int64 column got ${String(v)}`);
      });
      return makeData({ type: type as Int64, length, nullCount: 0, data });
    }
    case 'double':
      return makeData({ type: type as Float64, length, nullCount: 0, data: Float64Array.from(values as number[]) });
    case 'null':
      return makeData({ type: type as Null, length, nullCount: length });
  }
}

/** The writer's byte sink: every chunk goes to the file descriptor at once, nothing is queued in memory. */
class FdSink extends AsyncByteQueue {
  constructor(private readonly fd: number) {
    super();
  }

  override write(value: Uint8Array): void {
    let done = 0;
    while (done < value.byteLength) done += writeSync(this.fd, value, done, value.byteLength - done);
  }
}

/**
 * The bytes of one binary column of the current batch, in a buffer reused from batch to batch. Image buffers are
 * copied in as soon as their row is appended, so they die young (cheap to collect) instead of piling up until the
 * batch is flushed; and no new batch-sized buffer is allocated per batch. Both keep peak memory flat.
 */
class BinaryColumn {
  private buf = new Uint8Array(0);
  private used = 0;
  private lengths: number[] = [];

  push(bytes: Uint8Array): void {
    if (this.used + bytes.byteLength > this.buf.byteLength) {
      // Grow by half: the buffer settles just above batchBytes (plus one image), not at the next power of two.
      const grown = new Uint8Array(Math.max(this.used + bytes.byteLength, Math.floor(this.buf.byteLength * 1.5), 1 << 16));
      grown.set(this.buf.subarray(0, this.used));
      this.buf = grown;
    }
    this.buf.set(bytes, this.used);
    this.used += bytes.byteLength;
    this.lengths.push(bytes.byteLength);
  }

  /** The column's Data, a view on the reused buffer: valid until the next push (the batch is written at once). */
  take(): Data {
    const data = makeData({ type: new Binary(), length: this.lengths.length, nullCount: 0, valueOffsets: offsetsOf(this.lengths, 'binary'), data: this.buf.subarray(0, this.used) });
    this.used = 0;
    this.lengths = [];
    return data;
  }
}

export interface ArrowFileWriterOptions {
  /** Flush a record batch once its rows reach about this many bytes. */
  batchBytes: number;
}

export class ArrowFileWriter {
  readonly tmpPath: string;
  private readonly fd: number;
  private readonly writer: RecordBatchFileWriter;
  private readonly schema: Schema;
  /** Per column: the reused byte buffer of a binary column, or the pending values of any other column. */
  private readonly pending: (BinaryColumn | unknown[])[];
  private pendingRows = 0;
  private pendingBytes = 0;
  private rowCount = 0;
  private closed = false;

  /** Start `finalPath`'s temporary file (the final name is only produced by `commitTmp`). */
  constructor(
    readonly finalPath: string,
    readonly columns: Column[],
    private readonly opts: ArrowFileWriterOptions,
  ) {
    this.tmpPath = tmpPathFor(finalPath);
    this.schema = arrowSchema(columns);
    this.pending = columns.map((c) => (c.type === 'binary' ? new BinaryColumn() : []));
    this.fd = openSync(this.tmpPath, 'wx');
    this.writer = new RecordBatchFileWriter();
    this.writer.reset(new FdSink(this.fd), this.schema);
  }

  get rows(): number {
    return this.rowCount;
  }

  /** Append one row: one value per column, in column order. */
  append(row: unknown[]): void {
    if (row.length !== this.columns.length) throw new Error(`arrow writer: row has ${row.length} values for ${this.columns.length} columns`);
    row.forEach((v, i) => {
      const col = this.pending[i]!;
      if (col instanceof BinaryColumn) col.push(v as Uint8Array);
      else col.push(v);
      this.pendingBytes += sizeOf(this.columns[i]!.type, v);
    });
    this.pendingRows++;
    this.rowCount++;
    if (this.pendingBytes >= this.opts.batchBytes) this.flush();
  }

  private flush(): void {
    if (this.pendingRows === 0) return;
    const children = this.columns.map((c, i) => {
      const col = this.pending[i]!;
      if (col instanceof BinaryColumn) return col.take();
      this.pending[i] = [];
      return encode(c.type, col);
    });
    const struct = makeData({ type: new Struct(this.schema.fields), length: this.pendingRows, nullCount: 0, children });
    // Synchronous: every byte is in the file when write() returns, so the binary buffers may be reused.
    this.writer.write(new RecordBatch(this.schema, struct));
    this.pendingRows = 0;
    this.pendingBytes = 0;
  }

  /** Write the last batch and the footer and close the temporary file (still under its temporary name). */
  finish(): void {
    this.flush();
    this.writer.finish();
    closeSync(this.fd);
    this.closed = true;
  }

  /** Drop the temporary file (after an error). */
  abort(): void {
    if (!this.closed) {
      closeSync(this.fd);
      this.closed = true;
    }
    rmSync(this.tmpPath, { force: true });
  }
}
