/**
 * Small datasets in the layouts `vlkit arrow` reads, built in a temporary folder from the real fixture photos, and an
 * independent read-back of Arrow files (apache-arrow's reader, values turned into plain JS).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DataType, Type, tableFromIPC, Vector } from 'apache-arrow';
import { GOOD_IMAGES, tempDir } from './helpers.js';

let base: string | undefined;

/** A new empty folder under one temporary folder per test file (removed at exit). */
export function freshDir(): string {
  base ??= tempDir('vlkit-arrow-');
  return mkdtempSync(path.join(base, 'd'));
}

/** The bytes of a fixture photo. */
export function photo(name: string): Buffer {
  return readFileSync(path.join(GOOD_IMAGES, name));
}

/** Write `bytes` at root/rel (folders created) and return them. */
export function put(root: string, rel: string, content: Buffer | string): Buffer {
  const p = path.join(root, rel);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, content);
  return Buffer.isBuffer(content) ? content : Buffer.from(content);
}

export const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

/** pyarrow's spelling of a type, written independently of pipeline/arrow/inspect.ts. */
function typeName(t: DataType): string {
  if (t.typeId === Type.List) return `list<${t.children[0]!.name}: ${typeName(t.children[0]!.type)}>`;
  const names: Partial<Record<Type, string>> = { [Type.Binary]: 'binary', [Type.Utf8]: 'string', [Type.Null]: 'null' };
  if (names[t.typeId]) return names[t.typeId]!;
  const s = String(t);
  return s === 'Int64' ? 'int64' : s === 'Float64' ? 'double' : `?${s}`;
}

function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v);
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Vector) return [...v].map(plain);
  return v;
}

export interface ReadBack {
  /** `name: type` per field, with the field's nullability. */
  schema: string[];
  rows: Record<string, unknown>[];
  batches: number;
}

/** Read an Arrow IPC file with apache-arrow (file format required) into plain rows. */
export function readArrow(file: string): ReadBack {
  const bytes = readFileSync(file);
  // The IPC file format starts and ends with the ARROW1 magic.
  const magic = Buffer.from('ARROW1');
  if (!bytes.subarray(0, 6).equals(magic) || !bytes.subarray(-6).equals(magic)) throw new Error(`${file}: not the Arrow IPC file format`);
  const table = tableFromIPC(bytes);
  const fields = table.schema.fields;
  const rows: Record<string, unknown>[] = [];
  for (let r = 0; r < table.numRows; r++) {
    rows.push(Object.fromEntries(fields.map((f, c) => [f.name, plain(table.getChildAt(c)!.get(r))])));
  }
  return {
    schema: fields.map((f) => `${f.name}: ${typeName(f.type)}${f.nullable ? '' : ' not null'}${f.type.typeId === Type.List && !f.type.children[0]!.nullable ? ' (item not null)' : ''}`),
    rows,
    batches: table.batches.length,
  };
}

export const CAPTION_SCHEMA = ['image: binary', 'caption: list<item: string>', 'image_id: string', 'split: string'];
