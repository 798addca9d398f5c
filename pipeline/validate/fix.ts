/**
 * `--fix OUT`: a normalised copy of a good image for tools that choke on CMYK, 16-bit or EXIF-rotated files:
 * pixels rotated upright (EXIF orientation applied, tag dropped), 8-bit sRGB, JPEG — or PNG when the image has an
 * alpha channel, which JPEG cannot carry.
 *
 * The copy keeps the SAME relative path, extension included, even when the content changes format (a 16-bit
 * `scan.tif` becomes JPEG data in `OUT/scan.tif`): annotation files (COCO, Karpathy splits, VQA) name images by
 * file name, and renaming would break every one of them, while decoders (PIL, libvips, browsers) go by the
 * signature, not the extension. Written atomically: a killed run never leaves a half image under the final name.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { TMP_MARK, writeFileAtomic } from '../../common/atomic.js';

export interface FixOptions {
  /** Output root; the image lands at `<dir>/<rel>`. */
  dir: string;
  jpegQuality: number;
}

/** The normalised encoding of an image: upright, 8-bit sRGB, JPEG or (with alpha) PNG. */
export async function normalise(bytes: Uint8Array, jpegQuality: number): Promise<{ data: Buffer; format: 'jpeg' | 'png' }> {
  const meta = await sharp(bytes).metadata();
  const img = sharp(bytes).autoOrient().toColourspace('srgb');
  if (meta.hasAlpha) return { data: await img.png().toBuffer(), format: 'png' };
  return { data: await img.jpeg({ quality: jpegQuality }).toBuffer(), format: 'jpeg' };
}

// Directories this worker has already cleaned of temp files left by an earlier, killed process.
const swept = new Set<string>();

/** Remove temp files of OTHER processes (a killed run) in `dir`; this process's own temp files may be in flight. */
async function sweepOnce(dir: string): Promise<void> {
  if (swept.has(dir)) return;
  swept.add(dir);
  const names = await fsp.readdir(dir).catch(() => [] as string[]);
  const ours = `.tmp-${process.pid}-`;
  await Promise.all(
    names.filter((n) => TMP_MARK.test(n) && !n.includes(ours)).map((n) => fsp.rm(path.join(dir, n), { force: true })),
  );
}

/** Write the normalised copy of `bytes` to `<opts.dir>/<rel>` atomically. */
export async function writeFixed(bytes: Uint8Array, rel: string, opts: FixOptions): Promise<string> {
  const out = path.resolve(opts.dir, rel);
  if (!out.startsWith(path.resolve(opts.dir) + path.sep)) throw new Error(`--fix: relative path '${rel}' escapes ${opts.dir}`);
  await fsp.mkdir(path.dirname(out), { recursive: true });
  await sweepOnce(path.dirname(out));
  const { data } = await normalise(bytes, opts.jpegQuality);
  await writeFileAtomic(out, data);
  return out;
}
