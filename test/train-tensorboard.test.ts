/**
 * The hand-written TensorBoard writer: crc32c test vectors, and event files decoded back by an independent
 * decoder written here from the TFRecord and protobuf wire-format specs (no tensorboard package is installable).
 */
import assert from 'node:assert/strict';
import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { crc32c, eventFiles, EventWriter, readEventFile, readRecords, truncateEvents } from '../train/engine/index.js';
import { tempDir } from './helpers.js';

test('crc32c: RFC 3720 / common test vectors', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
  assert.equal(crc32c(new Uint8Array(0)), 0);
});

// --- independent decoder ---------------------------------------------------------------------------------------

/** Bitwise crc32c, without a table: a second implementation to check the module's framing with. */
function crcSlow(data: Uint8Array): number {
  let c = ~0 >>> 0;
  for (const b of data) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0x82f63b78 & -(c & 1));
  }
  return ~c >>> 0;
}

const mask = (c: number) => ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;

type Field = { no: number; wire: number; value: bigint | number | Uint8Array };

function parseProto(b: Uint8Array): Field[] {
  const out: Field[] = [];
  let i = 0;
  const varint = () => {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      const byte = b[i++]!;
      v |= BigInt(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return v;
      shift += 7n;
    }
  };
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  while (i < b.length) {
    const key = Number(varint());
    const no = key >> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ no, wire, value: varint() });
    else if (wire === 1) {
      out.push({ no, wire, value: dv.getFloat64(i, true) });
      i += 8;
    } else if (wire === 5) {
      out.push({ no, wire, value: dv.getFloat32(i, true) });
      i += 4;
    } else if (wire === 2) {
      const len = Number(varint());
      out.push({ no, wire, value: b.subarray(i, i + len) });
      i += len;
    } else throw new Error(`unexpected wire type ${wire}`);
  }
  return out;
}

interface Decoded {
  wallTime: number;
  step: number;
  fileVersion?: string;
  values: Array<[string, number]>;
}

function decodeFile(buf: Buffer): Decoded[] {
  const events: Decoded[] = [];
  let off = 0;
  while (off < buf.length) {
    const lenBytes = buf.subarray(off, off + 8);
    const len = Number(buf.readBigUInt64LE(off));
    assert.equal(buf.readUInt32LE(off + 8), mask(crcSlow(lenBytes)), `length CRC at ${off}`);
    const data = buf.subarray(off + 12, off + 12 + len);
    assert.equal(buf.readUInt32LE(off + 12 + len), mask(crcSlow(data)), `data CRC at ${off}`);
    off += 12 + len + 4;
    const e: Decoded = { wallTime: NaN, step: 0, values: [] };
    for (const f of parseProto(data)) {
      if (f.no === 1 && f.wire === 1) e.wallTime = f.value as number;
      else if (f.no === 2 && f.wire === 0) e.step = Number(f.value);
      else if (f.no === 3 && f.wire === 2) e.fileVersion = Buffer.from(f.value as Uint8Array).toString('utf8');
      else if (f.no === 5 && f.wire === 2) {
        for (const v of parseProto(f.value as Uint8Array)) {
          assert.equal(v.no, 1, 'Summary.value is field 1');
          const fields = parseProto(v.value as Uint8Array);
          const tag = Buffer.from(fields.find((x) => x.no === 1)!.value as Uint8Array).toString('utf8');
          const sv = fields.find((x) => x.no === 2 && x.wire === 5)!.value as number;
          e.values.push([tag, sv]);
        }
      } else throw new Error(`unexpected Event field ${f.no}`);
    }
    events.push(e);
  }
  assert.equal(off, buf.length, 'no trailing bytes');
  return events;
}

test('EventWriter: file name, version record, scalar events decode with an independent TFRecord/proto decoder', () => {
  const dir = tempDir();
  let t = 1_700_000_000.25;
  const w = new EventWriter(dir, { host: 'test-host', now: () => (t += 1) });
  w.scalars(1, { 'train/loss': 2.5, 'train/lr': 1e-4 });
  w.scalars(2, { 'train/loss': 1.25, 'bad/nan': NaN });
  w.scalars(3_000_000_000, { 'valid/acc': 0.75 });
  w.close();
  assert.equal(path.basename(w.file), 'events.out.tfevents.1700000001.test-host');
  const ev = decodeFile(readFileSync(w.file));
  assert.deepEqual(ev[0], { wallTime: 1_700_000_001.25, step: 0, fileVersion: 'brain.Event:2', values: [] });
  assert.deepEqual(
    ev.slice(1).map((e) => [e.step, e.values]),
    [
      [1, [['train/loss', 2.5], ['train/lr', Math.fround(1e-4)]]],
      [2, [['train/loss', 1.25]]], // non-finite values are not written
      [3_000_000_000, [['valid/acc', 0.75]]], // int64 step beyond 2^31
    ],
  );
  assert.ok(ev.slice(1).every((e, i) => e.wallTime === 1_700_000_002.25 + i));
  // The module's own reader agrees.
  assert.deepEqual(readEventFile(w.file).map((e) => e.step), [0, 1, 2, 3_000_000_000]);
});

test('reader: a truncated tail (killed writer) ends cleanly, a flipped byte is a CRC error', () => {
  const dir = tempDir();
  const w = new EventWriter(dir, { host: 'h' });
  for (let s = 1; s <= 3; s++) w.scalars(s, { loss: s });
  w.close();
  const size = readFileSync(w.file).length;
  truncateSync(w.file, size - 5);
  assert.deepEqual(readEventFile(w.file).map((e) => e.step), [0, 1, 2]);
  const buf = readFileSync(w.file);
  buf[20] = buf[20]! ^ 0xff;
  writeFileSync(w.file, buf);
  assert.throws(() => [...readRecords(buf, w.file)], /bad data CRC at byte 0/);
});

test('truncateEvents drops steps after a resume point in every event file; writers never share a file', async () => {
  const dir = tempDir();
  const now = () => 1_700_000_000;
  const a = new EventWriter(dir, { host: 'h', now });
  for (let s = 1; s <= 5; s++) a.scalars(s, { loss: s });
  a.close();
  const b = new EventWriter(dir, { host: 'h', now }); // same second: must get its own file
  b.scalars(6, { loss: 6 });
  b.close();
  assert.notEqual(a.file, b.file);
  await truncateEvents(dir, 3);
  assert.deepEqual(eventFiles(dir).map((f) => decodeFile(readFileSync(f)).map((e) => e.step)), [[0, 1, 2, 3], [0]]);
});
