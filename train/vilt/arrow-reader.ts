/**
 * Random access to ViLT-schema Arrow IPC files without holding a split in memory.
 *
 * An IPC *file* ends with a footer listing every record batch's position; each batch is a metadata message (field
 * lengths, buffer offsets) followed by a body of buffers. At open time this reader reads the footer and, per batch,
 * only the metadata and the buffers of the small columns (captions, questions, labels, ids) — decoded with
 * apache-arrow's own VectorLoader — and keeps each binary (image) column's offsets buffer (4 bytes per row).
 * An image is then two positioned reads away: no image bytes are read at open, and a shuffled epoch reads exactly
 * the images it uses (what ViLT gets from `pa.memory_map`, with the page cache doing the caching).
 */
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { Message, makeVector, Type, type DataType, type Field, type Schema } from 'apache-arrow';
import { Footer } from 'apache-arrow/ipc/metadata/file';
import { BufferRegion } from 'apache-arrow/ipc/metadata/message';
import { VectorLoader } from 'apache-arrow/visitor/vectorloader';
import { InputError } from '../../common/errors.js';

/** Buffers a field occupies in an IPC body (Arrow columnar format, depth first). */
function bufferCount(t: DataType, file: string): number {
  switch (t.typeId) {
    case Type.Null:
      return 0;
    case Type.Binary:
    case Type.Utf8:
      return 3;
    case Type.Int:
    case Type.Float:
    case Type.Bool:
      return 2;
    case Type.List:
      return 2 + bufferCount(t.children[0]!.type, file);
    case Type.Struct:
      return 1 + t.children.reduce((s: number, c: Field) => s + bufferCount(c.type, file), 0);
    default:
      throw new InputError(file, `column type ${String(t)} is not one the ViLT datasets use`);
  }
}

/** JS value of an Arrow cell: lists become arrays, int64 becomes number. */
function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (v !== null && typeof v === 'object' && Symbol.iterator in v && !(v instanceof Uint8Array) && typeof v !== 'string') {
    return [...(v as Iterable<unknown>)].map(plain);
  }
  return v;
}

interface BatchInfo {
  rows: number;
  bodyStart: number;
  /** Per binary column: absolute file position of its data buffer and its int32 offsets (rows + 1). */
  binary: Map<string, { dataStart: number; offsets: Int32Array }>;
}

export class ArrowRowFile {
  readonly rows: number;
  /** Column name → one plain JS value per row, for every non-binary column. */
  readonly columns: Map<string, unknown[]>;
  readonly binaryColumns: string[];
  private readonly batchStart: number[];

  private constructor(
    readonly file: string,
    private readonly fh: FileHandle,
    private readonly batches: BatchInfo[],
    columns: Map<string, unknown[]>,
    binaryColumns: string[],
  ) {
    this.columns = columns;
    this.binaryColumns = binaryColumns;
    this.batchStart = [];
    let n = 0;
    for (const b of batches) {
      this.batchStart.push(n);
      n += b.rows;
    }
    this.rows = n;
  }

  static async open(file: string): Promise<ArrowRowFile> {
    let fh: FileHandle;
    try {
      fh = await fsp.open(file, 'r');
    } catch (err) {
      throw new InputError(file, `cannot open (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    try {
      return await ArrowRowFile.load(file, fh);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  private static async load(file: string, fh: FileHandle): Promise<ArrowRowFile> {
    const read = async (pos: number, len: number): Promise<Uint8Array> => {
      const buf = Buffer.alloc(len);
      const { bytesRead } = await fh.read(buf, 0, len, pos);
      if (bytesRead !== len) throw new InputError(file, `truncated: wanted ${len} bytes at ${pos}, got ${bytesRead}`);
      return new Uint8Array(buf.buffer, buf.byteOffset, len);
    };
    const size = (await fh.stat()).size;
    if (size < 18) throw new InputError(file, 'too small to be an Arrow IPC file');
    const tail = Buffer.from(await read(size - 10, 10));
    if (tail.subarray(4).toString('latin1') !== 'ARROW1') throw new InputError(file, 'not the Arrow IPC file format (no ARROW1 magic at the end; `vlkit arrow` writes it)');
    const footerLen = tail.readInt32LE(0);
    const footer = Footer.decode(await read(size - 10 - footerLen, footerLen));
    const schema: Schema = footer.schema;
    const fields = schema.fields;
    const counts = fields.map((f) => bufferCount(f.type, file));
    const isBinary = fields.map((f) => f.type.typeId === Type.Binary);
    const binaryColumns = fields.filter((_, i) => isBinary[i]).map((f) => f.name);
    const columns = new Map<string, unknown[]>(fields.filter((_, i) => !isBinary[i]).map((f) => [f.name, []]));
    const batches: BatchInfo[] = [];

    for (let b = 0; b < footer.numRecordBatches; b++) {
      const block = footer.getRecordBatch(b)!;
      const meta = Buffer.from(await read(block.offset, block.metaDataLength));
      // Metadata = [0xFFFFFFFF continuation] int32 length, flatbuffer Message, padding.
      const cont = meta.readInt32LE(0) === -1;
      const len = meta.readInt32LE(cont ? 4 : 0);
      const msg = Message.decode(meta.subarray(cont ? 8 : 4, (cont ? 8 : 4) + len));
      if (!msg.isRecordBatch()) throw new InputError(file, `block ${b} is not a record batch`);
      const header = msg.header();
      if (header.compression) throw new InputError(file, 'compressed record batches are not supported (ViLT files are uncompressed)');
      const bodyStart = block.offset + block.metaDataLength;
      // Compact body holding only the small columns' buffers; binary columns get empty regions.
      const regions: BufferRegion[] = [];
      const wanted: { region: BufferRegion; at: number }[] = [];
      const binary = new Map<string, { dataStart: number; offsets: Int32Array }>();
      let bi = 0;
      let compact = 0;
      for (let f = 0; f < fields.length; f++) {
        const own = header.buffers.slice(bi, bi + counts[f]!);
        bi += counts[f]!;
        if (isBinary[f]) {
          const [, offs, data] = own as [BufferRegion, BufferRegion, BufferRegion];
          const raw = await read(bodyStart + offs.offset, offs.length);
          const offsets = new Int32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + offs.length));
          binary.set(fields[f]!.name, { dataStart: bodyStart + data.offset, offsets });
          for (let k = 0; k < own.length; k++) regions.push(new BufferRegion(0, 0));
        } else {
          for (const r of own) {
            regions.push(new BufferRegion(compact, r.length));
            wanted.push({ region: r, at: compact });
            compact += Math.ceil(r.length / 8) * 8;
          }
        }
      }
      const body = new Uint8Array(compact);
      for (const w of wanted) if (w.region.length > 0) body.set(await read(bodyStart + w.region.offset, w.region.length), w.at);
      const datas = new VectorLoader(body, header.nodes, regions, new Map(), schema.metadataVersion).visitMany(fields);
      const rows = header.length;
      fields.forEach((f, i) => {
        if (isBinary[i]) return;
        const vec = makeVector(datas[i]!);
        const out = columns.get(f.name)!;
        for (let r = 0; r < rows; r++) out.push(plain(vec.get(r)));
      });
      batches.push({ rows, bodyStart, binary });
    }
    return new ArrowRowFile(file, fh, batches, columns, binaryColumns);
  }

  /** The value of `column` (non-binary) at `row`. */
  value(column: string, row: number): unknown {
    const col = this.columns.get(column);
    if (!col) throw new InputError(this.file, `has no column '${column}' (columns: ${[...this.columns.keys(), ...this.binaryColumns].join(', ')})`);
    return col[row];
  }

  /** Where the bytes of binary `column` at `row` lie in the file (a data-loading worker reads them itself). */
  range(column: string, row: number): { position: number; length: number } {
    if (!this.binaryColumns.includes(column)) throw new InputError(this.file, `has no binary column '${column}'`);
    if (!(row >= 0 && row < this.rows)) throw new RangeError(`${this.file}: row ${row} out of range (${this.rows} rows)`);
    // Binary search for the batch holding `row`.
    let lo = 0;
    let hi = this.batches.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.batchStart[mid]! <= row) lo = mid;
      else hi = mid - 1;
    }
    const r = row - this.batchStart[lo]!;
    const { dataStart, offsets } = this.batches[lo]!.binary.get(column)!;
    return { position: dataStart + offsets[r]!, length: offsets[r + 1]! - offsets[r]! };
  }

  /** The bytes of binary `column` at `row`, read from disk. */
  async binary(column: string, row: number): Promise<Buffer> {
    const { position, length } = this.range(column, row);
    const buf = Buffer.alloc(length);
    const { bytesRead } = await this.fh.read(buf, 0, length, position);
    if (bytesRead !== length) throw new InputError(this.file, `truncated image at row ${row}`);
    return buf;
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}
