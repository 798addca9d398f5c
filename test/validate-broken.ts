/**
 * Broken image files made from the real fixture photos, the way they get broken in the wild: cut downloads, flipped
 * bits, HTML/gzip saved under an image name, decompression bombs, formats libvips cannot read. Each maker returns
 * the bytes; the expected class is what `vlkit validate` must report.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import sharp from 'sharp';
import { GOOD_IMAGES } from './helpers.js';

const good = (name: string): Buffer => readFileSync(path.join(GOOD_IMAGES, name));

function pngChunk(type: string, data: Buffer): Buffer {
  const b = Buffer.alloc(12 + data.length);
  b.writeUInt32BE(data.length, 0);
  b.write(type, 4, 'latin1');
  data.copy(b, 8);
  b.writeUInt32BE(zlib.crc32(b.subarray(4, 8 + data.length)), 8 + data.length);
  return b;
}

/** Offset and length of the first chunk of `type` in a PNG. */
function findChunk(png: Buffer, type: string): { off: number; len: number } {
  for (let off = 8; off < png.length; ) {
    const len = png.readUInt32BE(off);
    if (png.toString('latin1', off + 4, off + 8) === type) return { off, len };
    off += 12 + len;
  }
  throw new Error(`no ${type} chunk`);
}

/** A valid PNG header declaring width × height RGB pixels, with a tiny IDAT: a decompression bomb's shape. */
export function bombPng(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const sig = good('camera_gray.png').subarray(0, 8);
  return Buffer.concat([sig, pngChunk('IHDR', ihdr), pngChunk('IDAT', zlib.deflateSync(Buffer.alloc(1000))), pngChunk('IEND', Buffer.alloc(0))]);
}

/** A 2x2 24-bit BMP: a real image format this libvips build has no loader for. */
export function bmp(): Buffer {
  const rowBytes = 8; // 2 px × 3 bytes, padded to 4
  const b = Buffer.alloc(54 + rowBytes * 2);
  b.write('BM', 0, 'latin1');
  b.writeUInt32LE(b.length, 2);
  b.writeUInt32LE(54, 10);
  b.writeUInt32LE(40, 14); // BITMAPINFOHEADER
  b.writeInt32LE(2, 18);
  b.writeInt32LE(2, 22);
  b.writeUInt16LE(1, 26);
  b.writeUInt16LE(24, 28);
  b.writeUInt32LE(rowBytes * 2, 34);
  return b;
}

export interface Broken {
  name: string;
  bytes: Buffer;
  error: string;
}

/** Every broken file the classification tests use, with the class it must get. */
export async function brokenFiles(): Promise<Broken[]> {
  const jpg = good('rocket.jpg');
  const png = good('camera_gray.png');
  const idat = findChunk(png, 'IDAT');
  const flipped = Buffer.from(png);
  flipped[idat.off + 8 + (idat.len >> 1)]! ^= 0xff; // one byte in the compressed data: CRC no longer matches
  const zeroed = Buffer.from(jpg);
  zeroed.fill(0, Math.floor(jpg.length * 0.4), Math.floor(jpg.length * 0.6)); // scan data wiped, EOI intact
  const gif = await sharp(good('chelsea.jpg')).gif().toBuffer();
  const webp = await sharp(good('chelsea.jpg')).webp().toBuffer();
  const tif = good('chessboard_u16.tif');
  return [
    { name: 'png_crc.png', bytes: flipped, error: 'corrupt' },
    { name: 'png_cut.png', bytes: png.subarray(0, idat.off + 8 + (idat.len >> 1)), error: 'truncated' },
    { name: 'gzip.jpg', bytes: zlib.gzipSync(Buffer.from('<html>not an image</html>'.repeat(20))), error: 'not-an-image' },
    { name: 'bomb.png', bytes: bombPng(20000, 20000), error: 'too-large' },
    { name: 'bmp_as.jpg', bytes: bmp(), error: 'unsupported' },
    { name: 'jpeg_zeroed.jpg', bytes: zeroed, error: 'corrupt' },
    { name: 'jpeg_cut_10.jpg', bytes: jpg.subarray(0, Math.floor(jpg.length * 0.1)), error: 'truncated' },
    { name: 'jpeg_cut_50.jpg', bytes: jpg.subarray(0, Math.floor(jpg.length * 0.5)), error: 'truncated' },
    { name: 'jpeg_cut_90.jpg', bytes: jpg.subarray(0, Math.floor(jpg.length * 0.9)), error: 'truncated' },
    { name: 'jpeg_cut_last2.jpg', bytes: jpg.subarray(0, jpg.length - 2), error: 'truncated' },
    { name: 'gif_cut.gif', bytes: gif.subarray(0, gif.length >> 1), error: 'truncated' },
    { name: 'webp_cut.webp', bytes: webp.subarray(0, webp.length >> 1), error: 'truncated' },
    { name: 'tiff_cut.tif', bytes: tif.subarray(0, tif.length >> 1), error: 'truncated' },
  ];
}
