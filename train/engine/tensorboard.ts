/**
 * TensorBoard event files, written by hand (no npm writer exists).
 *
 * A file is a TFRecord stream: each record is
 *   uint64 LE length | uint32 LE masked-crc32c(length bytes) | data | uint32 LE masked-crc32c(data)
 * where data is a serialized `tensorflow.Event` proto. The first event carries file_version "brain.Event:2"; scalar
 * events carry a Summary with one Value{tag, simple_value}. Only the fields used are declared here:
 *   Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
 *   Summary { repeated Value value = 1; }   Value { string tag = 1; float simple_value = 2; }
 * File name: `events.out.tfevents.<unix seconds>.<host>` (TensorBoard matches the `tfevents` part).
 */
import { closeSync, fsyncSync, openSync, readFileSync, readdirSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import protobuf from 'protobufjs';
import { writeFileAtomic } from '../../common/atomic.js';

const root = new protobuf.Root().define('tensorboard');
root.add(new protobuf.Type('Value').add(new protobuf.Field('tag', 1, 'string')).add(new protobuf.Field('simpleValue', 2, 'float')));
root.add(new protobuf.Type('Summary').add(new protobuf.Field('value', 1, 'Value', 'repeated')));
root.add(
  new protobuf.Type('Event')
    .add(new protobuf.Field('wallTime', 1, 'double'))
    .add(new protobuf.Field('step', 2, 'int64'))
    .add(new protobuf.Field('fileVersion', 3, 'string'))
    .add(new protobuf.Field('summary', 5, 'Summary')),
);
const EventType = root.lookupType('tensorboard.Event');

export interface TbEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  scalars: Array<{ tag: string; value: number }>;
}

// --- crc32c (Castagnoli, reflected polynomial 0x82F63B78) -------------------------------------------------------

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

export function crc32c(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TFRecord's masking: rotate right by 15 and add a constant, so CRCs of CRCs do not degenerate. */
export function maskedCrc32c(data: Uint8Array): number {
  const c = crc32c(data);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** Frame one record. */
export function encodeRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + 4 + data.length + 4);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(data.length), true);
  dv.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  dv.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

/**
 * The records of a TFRecord buffer, checking both CRCs. Stops (without error) at a truncated tail — what a killed
 * writer leaves — but throws on a CRC mismatch inside the file, which is corruption, not truncation.
 */
export function* readRecords(buf: Uint8Array, file = '<buffer>'): Generator<Uint8Array> {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let off = 0;
  while (off + 12 <= buf.length) {
    const len = Number(dv.getBigUint64(off, true));
    if (dv.getUint32(off + 8, true) !== maskedCrc32c(buf.subarray(off, off + 8))) throw new Error(`${file}: bad length CRC at byte ${off}`);
    if (off + 12 + len + 4 > buf.length) return;
    const data = buf.subarray(off + 12, off + 12 + len);
    if (dv.getUint32(off + 12 + len, true) !== maskedCrc32c(data)) throw new Error(`${file}: bad data CRC at byte ${off}`);
    yield data;
    off += 12 + len + 4;
  }
}

export function encodeEvent(e: TbEvent): Uint8Array {
  const msg: Record<string, unknown> = { wallTime: e.wallTime, step: e.step };
  if (e.fileVersion !== undefined) msg.fileVersion = e.fileVersion;
  if (e.scalars.length) msg.summary = { value: e.scalars.map((s) => ({ tag: s.tag, simpleValue: s.value })) };
  return EventType.encode(EventType.create(msg)).finish();
}

export function decodeEvent(data: Uint8Array): TbEvent {
  const o = EventType.toObject(EventType.decode(data), { longs: Number, defaults: true }) as {
    wallTime: number;
    step: number;
    fileVersion: string;
    summary?: { value: Array<{ tag: string; simpleValue: number }> };
  };
  return {
    wallTime: o.wallTime,
    step: o.step,
    ...(o.fileVersion ? { fileVersion: o.fileVersion } : {}),
    scalars: (o.summary?.value ?? []).map((v) => ({ tag: v.tag, value: v.simpleValue })),
  };
}

export function readEventFile(file: string): TbEvent[] {
  return [...readRecords(readFileSync(file), file)].map(decodeEvent);
}

export function eventFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((n) => /^events\.out\.tfevents\.\d+\..+$/.test(n) && !/\.tmp-\d+-[0-9a-f]{8}$/.test(n)).sort().map((n) => path.join(dir, n));
}

/**
 * Drop every event with step > maxStep from the event files in `dir` (each file rewritten atomically), so a resumed
 * run does not show the steps the killed run logged after its last checkpoint twice.
 */
export async function truncateEvents(dir: string, maxStep: number): Promise<void> {
  for (const file of eventFiles(dir)) {
    const kept = readEventFile(file).filter((e) => e.fileVersion !== undefined || e.step <= maxStep);
    await writeFileAtomic(file, Buffer.concat(kept.map((e) => encodeRecord(encodeEvent(e)))));
  }
}

/**
 * Appends scalar events to a new event file. `flush` hands them to the OS; `sync` also fsyncs (the loop does that
 * before each checkpoint — events after the last checkpoint are cut on resume anyway).
 */
export class EventWriter {
  readonly file: string;
  private fd: number;
  private pending: Uint8Array[] = [];
  private readonly now: () => number;

  constructor(dir: string, opts: { host?: string; now?: () => number } = {}) {
    const now = opts.now ?? (() => Date.now() / 1000);
    const t = now();
    // Several writers in one second (a quick resume) must not share a file: bump the seconds until the name is free.
    let secs = Math.floor(t);
    const host = (opts.host ?? os.hostname()).replace(/[^\w.-]/g, '_');
    const existing = new Set(eventFiles(dir).map((f) => path.basename(f)));
    while (existing.has(`events.out.tfevents.${secs}.${host}`)) secs++;
    this.file = path.join(dir, `events.out.tfevents.${secs}.${host}`);
    this.fd = openSync(this.file, 'wx');
    this.now = now;
    this.write({ wallTime: t, step: 0, fileVersion: 'brain.Event:2', scalars: [] });
    this.flush();
  }

  private write(e: TbEvent): void {
    this.pending.push(encodeRecord(encodeEvent(e)));
  }

  scalars(step: number, values: Record<string, number>): void {
    const scalars = Object.entries(values)
      .filter(([, v]) => Number.isFinite(v))
      .map(([tag, value]) => ({ tag, value }));
    if (scalars.length) this.write({ wallTime: this.now(), step, scalars });
  }

  flush(): void {
    if (!this.pending.length) return;
    const buf = Buffer.concat(this.pending);
    this.pending = [];
    let off = 0;
    while (off < buf.length) off += writeSync(this.fd, buf, off);
  }

  sync(): void {
    this.flush();
    fsyncSync(this.fd);
  }

  close(): void {
    this.sync();
    closeSync(this.fd);
  }
}
