/**
 * Classify one image from its bytes: a pure function of the content (plus the limits), so a sharded or resumed run
 * produces the same facts for the same file. The report line adds only the path (see report.ts).
 *
 * Steps: empty → signature sniff (not-an-image / unsupported) → header (dimensions, EXIF orientation; `too-large`
 * from the header alone, before any pixel memory is allocated) → full decode with libvips in fail-on-warning mode
 * (sharp's `metadata()` alone accepts truncated JPEGs).
 *
 * How the decode is done without holding the whole image: for formats libvips reads as one sequential stream
 * (JPEG, PNG, GIF, WebP) we ask for the LAST pixel row only, with sequential access. The decoder cannot produce it
 * without decoding every row before it, and rows are discarded as they stream past, so memory stays at a few rows
 * whatever the image size (and it is ~1.6x faster than materialising the raw image). TIFF, HEIF and SVG are read
 * by strips/tiles/regions on demand, where the last row would skip most of the data: those are decoded whole.
 * Colour: CMYK is decoded in CMYK and embedded ICC profiles are ignored — the ICC transform to sRGB (lcms) costs
 * 15x the decode itself on a CMYK JPEG and tells nothing about whether the file is intact.
 */
import { createHash } from 'node:crypto';
import sharp, { type FailOnOptions as FailOn, type Metadata } from 'sharp';
import { checkContainer } from './container.js';
import { sniff } from './sniff.js';

export const ERROR_CLASSES = ['empty', 'not-an-image', 'truncated', 'corrupt', 'too-large', 'unsupported', 'timeout'] as const;
export type ErrorClass = (typeof ERROR_CLASSES)[number];

/** Everything a report line says about a file except its path. null: not known (the header did not parse). */
export interface ImageFacts {
  ok: boolean;
  error?: ErrorClass;
  message?: string;
  format: string | null;
  /** After EXIF orientation. */
  width: number | null;
  height: number | null;
  /** Channels as stored (1 grey, 3 RGB, 4 RGBA or CMYK), before any conversion. */
  channels: number | null;
  bytes: number;
  sha256: string;
}

export interface ClassifyOptions {
  /** Images with more pixels (width × height of one frame) are `too-large`. PIL's default bomb limit is 178956970. */
  maxPixels: number;
  /**
   * libvips' own kill switch for a decode that runs too long, in whole seconds (0: none). The per-image timeout in
   * milliseconds is enforced by the caller (worker.ts); this makes libvips actually stop the abandoned decode.
   */
  nativeTimeoutSeconds?: number;
}

export const PIL_MAX_PIXELS = 178956970;

// How failures map to classes, found by decoding real broken files (test/validate.test.ts builds each of them) with
// sharp 0.35 / libvips 8.18. A decode is first tried at fail-on level `warning`; a failure is then located by
// re-decoding at `none`, `truncated`, `error` (cumulative levels):
//   0-byte file                           → empty (checked before sharp, whose constructor throws "Input Buffer is empty")
//   no image signature: HTML, gzip, PDF   → not-an-image (sniff.ts; libvips: "unsupported image format")
//   BMP, ICO, JPEG 2000, JPEG XL, PSD ... → unsupported (sniff.ts; libvips: the same "unsupported image format")
//   header over --max-pixels              → too-large, from the header's dimensions, before any pixel memory
//   fails even at `none` (header cut, hard decoder error): by message —
//     "premature end of JPEG image", "Unexpected end of GIF source data", "bad seek" (AVIF cut),
//     "Unexpected end of file"                                                → truncated
//     "webp: unable to parse image", "libpng read error", "corrupt header:"  → container walk: the file ends
//                                               before its end marker / declared size → truncated, else corrupt
//     "Unsupported codec" (HEVC HEIC), "... is not implemented" (TIFF codec) → unsupported
//   decodes at `none`, fails at `truncated`: JPEG cut anywhere in the scan ("premature end of JPEG image" as a
//     warning) → truncated; PNG cut → truncated; PNG with a flipped IDAT byte fails here too ("libpng read
//     error" for both!) → the PNG chunk walk finds the CRC mismatch → corrupt
//   fails at `error`: TIFF cut ("Read error at scanline N; got X bytes", or "StripByteCounts" past the end)
//     → truncated; other errors → corrupt
//   fails only at `warning`: JPEG with zeroed scan data ("Corrupt JPEG data: premature end of data segment")
//     → corrupt
//   libvips kill after the native timeout ("timeout: N% complete") → timeout
// A note on messages: libvips' error buffer and sharp's warning queue are process-wide, so with decodes running
// on several threads a failure's text can be empty ("Warning treated as error due to failOn setting") or belong to
// another file. The ladder level is this decode's own state, so the class never depends on the racy text where
// the ladder decides; those messages are vlkit's own (deterministic across runs and shards).
const TOO_LARGE_RE = /exceeds pixel limit/i;
const TIMEOUT_RE = /^timeout: \d+% complete/im;
const UNSUPPORTED_RE = /unsupported (codec|feature|compression)|not implemented|not yet supported|unsupported image format/i;
const TRUNCATED_RE = /premature end of (JPEG image|JPEG file|input file)|unexpected end|end of file|bad seek|not enough data|short read|StripByteCounts|read error (on|at) (strip|tile|scanline)|truncated/i;
const CORRUPT_RE = /corrupt JPEG data|CRC|checksum|decoding error|invalid (code|distance|block|stored)|bad huffman/i;

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// Report messages are vlkit's own words per class (plus the container finding), not libvips' text: that text is
// racy between threads (see above), and a report line must be the same in every run and every shard.
const MESSAGES: Record<ErrorClass, string> = {
  empty: 'file is empty (0 bytes)',
  'not-an-image': 'no image signature',
  truncated: 'file ends before the image data does',
  corrupt: 'image data does not decode',
  'too-large': 'over the pixel limit',
  unsupported: 'a codec or variant of this format that libvips cannot decode here',
  timeout: 'libvips stopped the decode at the timeout',
};

/** Map a failed header read or decode to a class (see the table above). */
export function classOfDecodeError(format: string | null, bytes: Uint8Array, raw: string): { error: ErrorClass; message: string } {
  const c = checkContainer(format, bytes);
  const say = (error: ErrorClass): { error: ErrorClass; message: string } => ({
    error,
    message: c.finding && (error === 'truncated' || error === 'corrupt') ? `${MESSAGES[error]}; ${c.finding}` : MESSAGES[error],
  });
  if (TOO_LARGE_RE.test(raw)) return say('too-large');
  if (TIMEOUT_RE.test(raw)) return say('timeout');
  if (UNSUPPORTED_RE.test(raw)) return say('unsupported');
  if (TRUNCATED_RE.test(raw)) return say('truncated');
  if (CORRUPT_RE.test(raw)) return say('corrupt');
  return say(c.incomplete ? 'truncated' : 'corrupt');
}

/** Formats libvips decodes as one sequential stream: decoding the last row implies decoding every row. */
const STREAMED = new Set(['jpeg', 'png', 'gif', 'webp']);

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Facts known before any decoding: size and hash. */
export function initialFacts(bytes: Uint8Array): ImageFacts {
  return { ok: false, format: null, width: null, height: null, channels: null, bytes: bytes.byteLength, sha256: sha256Hex(bytes) };
}

function fail(facts: ImageFacts, error: ErrorClass, message: string): ImageFacts {
  facts.ok = false;
  facts.error = error;
  facts.message = message;
  return facts;
}

/**
 * Classify `bytes`, filling `facts` in place as each step learns something, so a caller that gives up on a slow
 * decode (timeout) can still report what was known. Never throws for bad image data.
 */
export async function classifyInto(facts: ImageFacts, bytes: Uint8Array, opts: ClassifyOptions): Promise<ImageFacts> {
  if (bytes.byteLength === 0) return fail(facts, 'empty', 'file is empty (0 bytes)');

  const sniffed = sniff(bytes);
  facts.format = sniffed.format;
  if (sniffed.format === null) return fail(facts, 'not-an-image', `no image signature (starts with ${describeStart(bytes)})`);
  if (!sniffed.decodable) return fail(facts, 'unsupported', `${sniffed.format} images cannot be decoded by libvips in this build`);

  let meta: Metadata;
  try {
    // The header only; the pixel limit is checked below from the header's own dimensions.
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (err) {
    const c = classOfDecodeError(sniffed.format, bytes, errorText(err));
    return fail(facts, c.error, c.message);
  }
  const format: string = meta.format ?? sniffed.format;
  facts.format = format;
  const width = meta.width ?? null;
  const height = meta.pageHeight ?? meta.height ?? null;
  facts.width = meta.autoOrient?.width ?? width;
  facts.height = meta.autoOrient?.height ?? height;
  facts.channels = meta.channels ?? null;
  if (width === null || height === null) return fail(facts, 'corrupt', 'header has no dimensions');
  if (width * height > opts.maxPixels) {
    return fail(facts, 'too-large', `${width}x${height} = ${width * height} pixels, over the limit of ${opts.maxPixels} (possible decompression bomb)`);
  }

  const decode = async (failOn: FailOn): Promise<string | null> => {
    try {
      let img = sharp(bytes, { failOn, limitInputPixels: opts.maxPixels, sequentialRead: true, ignoreIcc: true });
      if (opts.nativeTimeoutSeconds) img = img.timeout({ seconds: opts.nativeTimeoutSeconds });
      if (meta.space === 'cmyk') img = img.pipelineColourspace('cmyk').toColourspace('cmyk');
      if (STREAMED.has(format)) img = img.extract({ left: 0, top: height - 1, width, height: 1 });
      await img.raw().toBuffer();
      return null;
    } catch (err) {
      return errorText(err);
    }
  };
  // Strictest first: a good image costs one decode. A failure is then located on libvips' ladder of fail-on
  // levels (none < truncated < error < warning): WHICH level rejects the file is this decode's own state, whereas
  // libvips' message text is not (see the note on messages above).
  const strict = await decode('warning');
  if (strict === null) {
    facts.ok = true;
    return facts;
  }
  if (TIMEOUT_RE.test(strict) || TOO_LARGE_RE.test(strict)) {
    const c = classOfDecodeError(format, bytes, strict);
    return fail(facts, c.error, c.message);
  }
  const hard = await decode('none');
  if (hard !== null) {
    const c = classOfDecodeError(format, bytes, hard);
    return fail(facts, c.error, c.message);
  }
  const container = checkContainer(format, bytes);
  if ((await decode('truncated')) !== null) {
    // libpng fails at this level both for a cut file and for a CRC mismatch: the chunk walk tells them apart.
    if (format === 'png' && !container.incomplete) return fail(facts, 'corrupt', container.finding ?? 'PNG data does not decode');
    return fail(facts, 'truncated', `image data ends early (decodes only with truncation ignored)${container.finding ? `; ${container.finding}` : ''}`);
  }
  const error = await decode('error');
  if (error !== null) {
    const c = classOfDecodeError(format, bytes, error);
    return fail(facts, c.error === 'truncated' ? 'truncated' : 'corrupt', c.message);
  }
  return fail(facts, 'corrupt', 'damaged image data: the decoder reports errors it can paper over (decodes only with warnings ignored)');
}

/** Classify bytes from scratch (no timeout handling: see worker.ts for that). */
export function classifyImage(bytes: Uint8Array, opts: ClassifyOptions): Promise<ImageFacts> {
  return classifyInto(initialFacts(bytes), bytes, opts);
}

/** The first bytes of a non-image, printable, so the message says what the file really is ("<html>", gzip magic). */
function describeStart(bytes: Uint8Array): string {
  const head = bytes.subarray(0, 16);
  const printable = head.every((c) => (c >= 0x20 && c < 0x7f) || c === 0x0a || c === 0x0d || c === 0x09);
  if (printable) return JSON.stringify(Buffer.from(head).toString('latin1'));
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip magic 1f 8b';
  return `bytes ${Buffer.from(head.subarray(0, 8)).toString('hex').replace(/(..)(?!$)/g, '$1 ')}`;
}
