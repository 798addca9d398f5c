/**
 * Structural checks of image containers, used only after a decode has failed, to tell `truncated` from `corrupt`
 * where libvips' message does not: libpng reports both a CRC mismatch and a cut-off file as "libpng read error".
 */
import zlib from 'node:zlib';

export interface ContainerCheck {
  /** The file ends before the container's end marker/declared size. */
  incomplete: boolean;
  /** A concrete defect found on the way (e.g. a PNG chunk CRC mismatch), for the report message. */
  finding?: string;
}

const PNG_SIGNATURE_BYTES = 8;

/** Walk PNG chunks (length, type, data, CRC-32 of type+data) up to IEND. */
function checkPng(b: Buffer): ContainerCheck {
  let off = PNG_SIGNATURE_BYTES;
  while (off + 12 <= b.length) {
    const len = b.readUInt32BE(off);
    const type = b.toString('latin1', off + 4, off + 8);
    const end = off + 12 + len;
    if (end > b.length) return { incomplete: true, finding: `${type} chunk at byte ${off} needs ${end} bytes, file has ${b.length}` };
    const crc = b.readUInt32BE(end - 4);
    if (zlib.crc32(b.subarray(off + 4, end - 4)) !== crc) {
      return { incomplete: false, finding: `CRC mismatch in ${type} chunk at byte ${off}` };
    }
    if (type === 'IEND') return { incomplete: false };
    off = end;
  }
  return { incomplete: true, finding: `no IEND chunk (file ends at byte ${b.length})` };
}

/** Bytes at the end after dropping zero/whitespace padding some writers append. */
function trimmedEnd(b: Buffer): number {
  let end = b.length;
  while (end > 0 && [0x00, 0x0a, 0x0d, 0x20].includes(b[end - 1]!)) end--;
  return end;
}

export function checkContainer(format: string | null, bytes: Uint8Array): ContainerCheck {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (format) {
    case 'png':
      return checkPng(b);
    case 'jpeg': {
      // A complete JPEG ends with the EOI marker FF D9.
      const end = trimmedEnd(b);
      return end >= 2 && b[end - 2] === 0xff && b[end - 1] === 0xd9 ? { incomplete: false } : { incomplete: true, finding: 'no EOI marker at the end' };
    }
    case 'gif':
      // A complete GIF ends with the trailer byte 0x3B.
      return b[trimmedEnd(b) - 1] === 0x3b ? { incomplete: false } : { incomplete: true, finding: 'no GIF trailer at the end' };
    case 'webp': {
      // RIFF header: "RIFF", little-endian size of everything after these 8 bytes.
      if (b.length < 12) return { incomplete: true };
      const declared = b.readUInt32LE(4) + 8;
      return declared > b.length ? { incomplete: true, finding: `RIFF declares ${declared} bytes, file has ${b.length}` } : { incomplete: false };
    }
    default:
      return { incomplete: false };
  }
}
