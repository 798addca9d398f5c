/**
 * LXMERT's feature TSV: one row per image, tab separated, no header, fields in the order of LXMERT's FIELDNAMES
 * (img_id, img_h, img_w, objects_id, objects_conf, attrs_id, attrs_conf, num_boxes, boxes, features), arrays as
 * base64 of little-endian raw bytes (objects_id/attrs_id int64, everything else float32). Rows end in "\r\n",
 * the line terminator of Python's csv writer that made the published files; "\n" is accepted when reading.
 *
 * In memory, ids are Int32Array (vocabulary indices); the codec checks that every int64 fits.
 */
import { createReadStream } from 'node:fs';
import os from 'node:os';
import { InputError } from '../common/errors.js';

export const FIELDNAMES = ['img_id', 'img_h', 'img_w', 'objects_id', 'objects_conf', 'attrs_id', 'attrs_conf', 'num_boxes', 'boxes', 'features'] as const;

if (os.endianness() !== 'LE') throw new Error('vlkit features: the TSV and store formats assume a little-endian machine');

export interface FeatureRow {
  imgId: string;
  imgH: number;
  imgW: number;
  numBoxes: number;
  /** Feature size D. */
  dim: number;
  /** [N*4] x1 y1 x2 y2, original pixels. */
  boxes: Float32Array;
  /** [N*D] */
  features: Float32Array;
  objectsId: Int32Array;
  objectsConf: Float32Array;
  attrsId: Int32Array;
  attrsConf: Float32Array;
}

/** Characters an img_id cannot contain without CSV quoting (which the published files never use). */
const BAD_ID = /[\t\r\n"]/;

export function checkImgId(id: string): void {
  if (id === '' || BAD_ID.test(id)) throw new Error(`img_id ${JSON.stringify(id)} is empty or contains a tab, newline or double quote`);
}

function b64(view: ArrayBufferView): string {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('base64');
}

function int64(ids: Int32Array): BigInt64Array {
  const out = new BigInt64Array(ids.length);
  for (let i = 0; i < ids.length; i++) out[i] = BigInt(ids[i]!);
  return out;
}

/** One TSV row, including its "\r\n". */
export function encodeRow(r: FeatureRow): string {
  checkImgId(r.imgId);
  return (
    [
      r.imgId,
      String(r.imgH),
      String(r.imgW),
      b64(int64(r.objectsId)),
      b64(r.objectsConf),
      b64(int64(r.attrsId)),
      b64(r.attrsConf),
      String(r.numBoxes),
      b64(r.boxes),
      b64(r.features),
    ].join('\t') + '\r\n'
  );
}

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;
const UINT = /^\d+$/;

function decodedLength(s: string): number {
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  return (s.length / 4) * 3 - pad;
}

/** Decode base64 into a fresh (aligned) buffer of exactly `bytes` bytes. */
function decode(s: string, bytes: number): ArrayBuffer {
  const buf = new ArrayBuffer(bytes);
  const n = Buffer.from(s, 'base64').copy(new Uint8Array(buf));
  if (n !== bytes) throw new Error(`decoded ${n} bytes, expected ${bytes}`);
  return buf;
}

function int32From64(s: string, n: number, field: string): Int32Array {
  const big = new BigInt64Array(decode(s, 8 * n));
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = big[i]!;
    if (v < -2147483648n || v > 2147483647n) throw new Error(`${field}[${i}] = ${v} does not fit in int32`);
    out[i] = Number(v);
  }
  return out;
}

/**
 * Check a row's shape without decoding the arrays (used to validate files on resume and merge): 10 fields,
 * integer sizes, base64 fields of the lengths num_boxes implies. Returns the problem, or null when valid.
 */
export function rowProblem(line: string): string | null {
  const f = line.split('\t');
  if (f.length !== FIELDNAMES.length) return `expected ${FIELDNAMES.length} tab-separated fields, found ${f.length}`;
  const [id, h, w, oid, oconf, aid, aconf, nb, boxes, feats] = f as [string, string, string, string, string, string, string, string, string, string];
  if (id === '' || id.includes('"')) return 'img_id is empty or quoted';
  for (const [name, v] of [['img_h', h], ['img_w', w], ['num_boxes', nb]] as const) if (!UINT.test(v)) return `${name} '${v.slice(0, 20)}' is not a non-negative integer`;
  const n = Number(nb);
  const sized: [string, string, number][] = [['objects_id', oid, 8 * n], ['objects_conf', oconf, 4 * n], ['attrs_id', aid, 8 * n], ['attrs_conf', aconf, 4 * n], ['boxes', boxes, 16 * n]];
  for (const [name, v, bytes] of sized) {
    if (v.length % 4 !== 0 || !B64.test(v)) return `${name} is not base64`;
    if (decodedLength(v) !== bytes) return `${name} holds ${decodedLength(v)} bytes, ${bytes} expected for ${n} boxes`;
  }
  if (feats.length % 4 !== 0 || !B64.test(feats)) return 'features is not base64';
  const fb = decodedLength(feats);
  if (n > 0 ? fb === 0 || fb % (4 * n) !== 0 : fb !== 0) return `features holds ${fb} bytes, not a multiple of 4 x ${n} boxes`;
  return null;
}

/** Parse one row (without its line terminator). Throws with the reason when it is not a valid row. */
export function parseRow(line: string): FeatureRow {
  const problem = rowProblem(line);
  if (problem) throw new Error(problem);
  const f = line.split('\t');
  const n = Number(f[7]);
  const featBytes = decodedLength(f[9]!);
  const dim = n > 0 ? featBytes / (4 * n) : 0;
  return {
    imgId: f[0]!,
    imgH: Number(f[1]),
    imgW: Number(f[2]),
    numBoxes: n,
    dim,
    objectsId: int32From64(f[3]!, n, 'objects_id'),
    objectsConf: new Float32Array(decode(f[4]!, 4 * n)),
    attrsId: int32From64(f[5]!, n, 'attrs_id'),
    attrsConf: new Float32Array(decode(f[6]!, 4 * n)),
    boxes: new Float32Array(decode(f[8]!, 16 * n)),
    features: new Float32Array(decode(f[9]!, featBytes)),
  };
}

/** The img_id of a row without parsing the rest. */
export function rowId(line: string): string {
  const tab = line.indexOf('\t');
  return tab < 0 ? line : line.slice(0, tab);
}

export interface RawLine {
  /** The row without "\r\n" / "\n". */
  text: string;
  /** 1-based line number. */
  lineNo: number;
  /** Byte offset of the line start and of the byte after its terminator. */
  start: number;
  end: number;
  /** False for a last line with no terminator (a row cut short by a kill). */
  terminated: boolean;
}

/**
 * Stream the lines of a file with their byte ranges. Rows are large (hundreds of KB), so the chunks of a line are
 * collected and joined once.
 */
export async function* readLines(file: string): AsyncGenerator<RawLine> {
  let parts: Buffer[] = [];
  let start = 0;
  let pos = 0;
  let lineNo = 0;
  const toText = (bufs: Buffer[]) => {
    const b = bufs.length === 1 ? bufs[0]! : Buffer.concat(bufs);
    const cut = b.length > 0 && b[b.length - 1] === 13 ? b.length - 1 : b.length;
    return b.toString('utf8', 0, cut);
  };
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    let from = 0;
    for (;;) {
      const nl = chunk.indexOf(10, from);
      if (nl < 0) break;
      parts.push(chunk.subarray(from, nl));
      const end = pos + nl + 1;
      yield { text: toText(parts), lineNo: ++lineNo, start, end, terminated: true };
      parts = [];
      start = end;
      from = nl + 1;
    }
    if (from < chunk.length) parts.push(Buffer.from(chunk.subarray(from)));
    pos += chunk.length;
  }
  if (parts.length > 0) yield { text: toText(parts), lineNo: ++lineNo, start, end: pos, terminated: false };
}

export interface ReadTsvOptions {
  /** Only the first `topk` rows (LXMERT's load_obj_tsv topk). */
  topk?: number;
}

/** Stream the rows of a feature TSV, decoded. A row that does not parse is an error naming file and line. */
export async function* readFeatureTsv(file: string, opts: ReadTsvOptions = {}): AsyncGenerator<FeatureRow> {
  let count = 0;
  if (opts.topk !== undefined && opts.topk <= 0) return;
  for await (const line of readLines(file)) {
    if (line.text === '' && !line.terminated) break;
    let row: FeatureRow;
    try {
      row = parseRow(line.text);
    } catch (err) {
      throw new InputError(file, (err as Error).message, line.lineNo);
    }
    yield row;
    if (opts.topk !== undefined && ++count >= opts.topk) return;
  }
}
