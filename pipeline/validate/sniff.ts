/**
 * Identify a file's format from its first bytes, before any decoder sees it. This is what separates
 * `not-an-image` (an HTML error page, a gzip, a PDF saved as .jpg: no image signature at all) from `unsupported`
 * (a real image format, e.g. BMP or JPEG 2000, that this build of libvips cannot decode). libvips alone says
 * "unsupported image format" for both.
 *
 * Names follow sharp's `metadata().format` (`jpeg`, `png`, `heif` for AVIF/HEIC, ...) so a report line's `format`
 * means the same thing whether the header parsed or not.
 */

export interface Sniffed {
  /** Format name, or null when the bytes carry no image signature. */
  format: string | null;
  /** Whether sharp/libvips can decode the format at all (false: report `unsupported`). */
  decodable: boolean;
}

/** How many leading bytes sniffing looks at. */
export const SNIFF_BYTES = 1024;

const ascii = (b: Uint8Array, start: number, end: number): string => Buffer.from(b.subarray(start, end)).toString('latin1');

function startsWith(b: Uint8Array, sig: number[], at = 0): boolean {
  if (b.length < at + sig.length) return false;
  for (let i = 0; i < sig.length; i++) if (b[at + i] !== sig[i]) return false;
  return true;
}

// ISO base media (ftyp) brands of the HEIF family: AVIF decodes with the bundled libheif+aom; HEVC-coded HEIC does
// not (sharp's prebuilt libheif has no HEVC decoder), which the decoder reports and classify() maps to `unsupported`.
const HEIF_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1', 'avif', 'avis']);

// Image formats with a clear signature that sharp's prebuilt libvips has no loader for.
const UNDECODABLE: Array<[string, (b: Uint8Array) => boolean]> = [
  // BMP: "BM" then a DIB header size (at byte 14) of one of the known BITMAP*HEADER variants.
  ['bmp', (b) => startsWith(b, [0x42, 0x4d]) && b.length >= 18 && [12, 40, 52, 56, 64, 108, 124].includes(Buffer.from(b).readUInt32LE(14))],
  ['ico', (b) => startsWith(b, [0, 0, 1, 0]) || startsWith(b, [0, 0, 2, 0])],
  ['jp2', (b) => startsWith(b, [0, 0, 0, 0x0c, 0x6a, 0x50, 0x20, 0x20, 0x0d, 0x0a, 0x87, 0x0a]) || startsWith(b, [0xff, 0x4f, 0xff, 0x51])],
  ['jxl', (b) => startsWith(b, [0xff, 0x0a]) || startsWith(b, [0, 0, 0, 0x0c, 0x4a, 0x58, 0x4c, 0x20, 0x0d, 0x0a, 0x87, 0x0a])],
  ['psd', (b) => startsWith(b, [0x38, 0x42, 0x50, 0x53])],
  ['exr', (b) => startsWith(b, [0x76, 0x2f, 0x31, 0x01])],
  ['qoi', (b) => ascii(b, 0, 4) === 'qoif'],
  ['dds', (b) => ascii(b, 0, 4) === 'DDS '],
  ['hdr', (b) => ascii(b, 0, 10) === '#?RADIANCE' || ascii(b, 0, 6) === '#?RGBE'],
  ['pnm', (b) => b.length >= 3 && b[0] === 0x50 && b[1]! >= 0x31 && b[1]! <= 0x37 && [0x20, 0x09, 0x0a, 0x0d].includes(b[2]!)],
];

/** Is this text an SVG document (and not, say, an HTML page that embeds one)? */
function isSvg(b: Uint8Array): boolean {
  const text = ascii(b, 0, Math.min(b.length, SNIFF_BYTES)).replace(/^\ufeff|^\xef\xbb\xbf/, '').trimStart();
  if (!(text.startsWith('<?xml') || text.startsWith('<svg') || text.startsWith('<!--') || /^<!DOCTYPE svg/i.test(text))) return false;
  return /<svg[\s>]/.test(text);
}

export function sniff(b: Uint8Array): Sniffed {
  const ok = (format: string): Sniffed => ({ format, decodable: true });
  if (startsWith(b, [0xff, 0xd8, 0xff])) return ok('jpeg');
  if (startsWith(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return ok('png');
  if (ascii(b, 0, 6) === 'GIF87a' || ascii(b, 0, 6) === 'GIF89a') return ok('gif');
  if (ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'WEBP') return ok('webp');
  if (startsWith(b, [0x49, 0x49, 0x2a, 0]) || startsWith(b, [0x4d, 0x4d, 0, 0x2a]) || startsWith(b, [0x49, 0x49, 0x2b, 0]) || startsWith(b, [0x4d, 0x4d, 0, 0x2b])) {
    return ok('tiff');
  }
  if (ascii(b, 4, 8) === 'ftyp' && HEIF_BRANDS.has(ascii(b, 8, 12))) return ok('heif');
  if (isSvg(b)) return ok('svg');
  for (const [format, test] of UNDECODABLE) if (test(b)) return { format, decodable: false };
  return { format: null, decodable: false };
}
