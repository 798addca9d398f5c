/**
 * Just enough ZIP for PyTorch checkpoints. Reading is random access through a file descriptor (central directory
 * first, then one entry at a time) so a 500 MB checkpoint is never held twice in memory; each entry lands in its own
 * fresh ArrayBuffer, which keeps typed-array views of it aligned. Zip64 archives (torch writes them above 4 GiB) are
 * read; writing stays below 4 GiB and says so. Writing mirrors torch's PyTorchStreamWriter: STORED entries whose data
 * starts on a 64-byte boundary, padded with an "FB" extra field in the local header.
 */
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { inflateSync } from 'fflate';

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  crc: number;
  localHeaderOffset: number;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;
const U32_MAX = 0xffffffff;

export class ZipReader {
  readonly entries = new Map<string, ZipEntry>();
  /** Entry names in central-directory order (torch derives the archive folder from the first one). */
  readonly names: string[] = [];
  private readonly fd: number;
  private readonly fileSize: number;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'r');
    try {
      this.fileSize = fstatSync(this.fd).size;
      this.readCentralDirectory();
    } catch (err) {
      closeSync(this.fd);
      throw err;
    }
  }

  close(): void {
    closeSync(this.fd);
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The entry's bytes in a fresh buffer (byteOffset 0); CRC-checked unless `verify` is false. */
  read(name: string, verify = true): Uint8Array {
    const e = this.entries.get(name);
    if (!e) throw new Error(`${this.path}: zip entry '${name}' missing`);
    const local = this.bytesAt(e.localHeaderOffset, 30);
    const lv = dv(local);
    if (lv.getUint32(0, true) !== SIG_LOCAL) throw new Error(`${this.path}: bad local header for '${name}'`);
    const dataStart = e.localHeaderOffset + 30 + lv.getUint16(26, true) + lv.getUint16(28, true);
    let data: Uint8Array;
    if (e.method === 0) {
      data = this.bytesAt(dataStart, e.size);
    } else if (e.method === 8) {
      data = inflateSync(this.bytesAt(dataStart, e.compressedSize), { out: new Uint8Array(e.size) });
    } else {
      throw new Error(`${this.path}: zip entry '${name}' uses unsupported compression method ${e.method}`);
    }
    if (data.length !== e.size || (verify && crc32(data) >>> 0 !== e.crc)) throw new Error(`${this.path}: zip entry '${name}' is corrupt (size or CRC mismatch)`);
    return data;
  }

  private bytesAt(offset: number, length: number): Uint8Array {
    if (offset + length > this.fileSize) throw new Error(`${this.path}: truncated zip (needs bytes up to ${offset + length}, file has ${this.fileSize})`);
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, out, done, Math.min(length - done, 1 << 30), offset + done);
      if (n === 0) throw new Error(`${this.path}: unexpected end of file`);
      done += n;
    }
    return out;
  }

  private readCentralDirectory(): void {
    const tailLen = Math.min(this.fileSize, 22 + 65535);
    const tail = this.bytesAt(this.fileSize - tailLen, tailLen);
    const tv = dv(tail);
    let eocd = -1;
    for (let i = tailLen - 22; i >= 0; i--) {
      if (tv.getUint32(i, true) === SIG_EOCD) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw new Error(`${this.path}: not a zip archive (no end-of-central-directory record)`);
    let count = tv.getUint16(eocd + 10, true);
    let cdSize = tv.getUint32(eocd + 12, true);
    let cdOffset = tv.getUint32(eocd + 16, true);
    if (count === 0xffff || cdSize === U32_MAX || cdOffset === U32_MAX) {
      const loc = eocd - 20;
      if (loc < 0 || tv.getUint32(loc, true) !== SIG_EOCD64_LOCATOR) throw new Error(`${this.path}: zip64 locator missing`);
      const rec = this.bytesAt(Number(tv.getBigUint64(loc + 8, true)), 56);
      const rv = dv(rec);
      if (rv.getUint32(0, true) !== SIG_EOCD64) throw new Error(`${this.path}: bad zip64 end record`);
      count = Number(rv.getBigUint64(32, true));
      cdSize = Number(rv.getBigUint64(40, true));
      cdOffset = Number(rv.getBigUint64(48, true));
    }
    const cd = this.bytesAt(cdOffset, cdSize);
    const cv = dv(cd);
    const utf8 = new TextDecoder();
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cd.length || cv.getUint32(p, true) !== SIG_CENTRAL) throw new Error(`${this.path}: bad central directory entry ${i}`);
      const nameLen = cv.getUint16(p + 28, true);
      const extraLen = cv.getUint16(p + 30, true);
      const commentLen = cv.getUint16(p + 32, true);
      const e: ZipEntry = {
        name: utf8.decode(cd.subarray(p + 46, p + 46 + nameLen)),
        method: cv.getUint16(p + 10, true),
        crc: cv.getUint32(p + 16, true),
        compressedSize: cv.getUint32(p + 20, true),
        size: cv.getUint32(p + 24, true),
        localHeaderOffset: cv.getUint32(p + 42, true),
      };
      // Zip64 extra field: the 64-bit values of exactly those fields that read 0xFFFFFFFF, in this order.
      for (let x = p + 46 + nameLen; x + 4 <= p + 46 + nameLen + extraLen; ) {
        const id = cv.getUint16(x, true);
        const len = cv.getUint16(x + 2, true);
        if (id === 0x0001) {
          let q = x + 4;
          const next = (): number => Number(cv.getBigUint64((q += 8) - 8, true));
          if (e.size === U32_MAX) e.size = next();
          if (e.compressedSize === U32_MAX) e.compressedSize = next();
          if (e.localHeaderOffset === U32_MAX) e.localHeaderOffset = next();
        }
        x += 4 + len;
      }
      this.entries.set(e.name, e);
      this.names.push(e.name);
      p += 46 + nameLen + extraLen + commentLen;
    }
  }
}

/** Sequential STORED-zip writer onto an open file descriptor. */
export class ZipWriter {
  private offset = 0;
  private readonly central: { name: Uint8Array; crc: number; size: number; offset: number }[] = [];

  constructor(private readonly fd: number, private readonly path: string) {}

  /** Add an entry whose data is the concatenation of `parts`, starting on an `align`-byte boundary. */
  add(name: string, parts: readonly Uint8Array[], align = 64): void {
    const nameBytes = new TextEncoder().encode(name);
    let size = 0;
    let crc = 0;
    for (const part of parts) {
      size += part.length;
      crc = crc32(part, crc);
    }
    const headerEnd = this.offset + 30 + nameBytes.length;
    // Torch pads with an extra field "FB" + u16 length + zeros so the data begins on the boundary.
    const pad = align > 1 ? (align - ((headerEnd + 4) % align)) % align : -4;
    const extraLen = pad + 4;
    if (this.offset + 30 + nameBytes.length + extraLen + size >= U32_MAX) {
      throw new Error(`${this.path}: checkpoint would exceed 4 GiB, which needs zip64 (not written here); save as safetensors instead`);
    }
    const header = new Uint8Array(30 + nameBytes.length + extraLen);
    const hv = dv(header);
    hv.setUint32(0, SIG_LOCAL, true);
    hv.setUint16(4, 20, true); // version needed
    hv.setUint16(6, 0, true); // flags
    hv.setUint16(8, 0, true); // STORED
    hv.setUint32(14, crc >>> 0, true);
    hv.setUint32(18, size, true);
    hv.setUint32(22, size, true);
    hv.setUint16(26, nameBytes.length, true);
    hv.setUint16(28, extraLen, true);
    header.set(nameBytes, 30);
    if (extraLen > 0) {
      hv.setUint16(30 + nameBytes.length, 0x4246, true); // "FB"
      hv.setUint16(32 + nameBytes.length, pad, true);
    }
    this.central.push({ name: nameBytes, crc: crc >>> 0, size, offset: this.offset });
    this.write(header);
    for (const part of parts) this.write(part);
  }

  finish(): void {
    const cdOffset = this.offset;
    for (const c of this.central) {
      const rec = new Uint8Array(46 + c.name.length);
      const v = dv(rec);
      v.setUint32(0, SIG_CENTRAL, true);
      v.setUint16(4, 20, true); // version made by
      v.setUint16(6, 20, true); // version needed
      v.setUint32(16, c.crc, true);
      v.setUint32(20, c.size, true);
      v.setUint32(24, c.size, true);
      v.setUint16(28, c.name.length, true);
      v.setUint32(42, c.offset, true);
      rec.set(c.name, 46);
      this.write(rec);
    }
    const eocd = new Uint8Array(22);
    const v = dv(eocd);
    v.setUint32(0, SIG_EOCD, true);
    v.setUint16(8, this.central.length, true);
    v.setUint16(10, this.central.length, true);
    v.setUint32(12, this.offset - cdOffset, true);
    v.setUint32(16, cdOffset, true);
    this.write(eocd);
  }

  private write(b: Uint8Array): void {
    let done = 0;
    while (done < b.length) done += writeSync(this.fd, b, done, b.length - done);
    this.offset += b.length;
  }
}

function dv(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}
