/**
 * Stream the elements of one JSON array out of a file without parsing the whole file at once.
 *
 * Annotation files are big (VG region_descriptions.json is ~700 MB, more than V8's longest string), so they are read
 * in chunks and only the bracket structure is tracked byte by byte; each element of the wanted array is handed to
 * JSON.parse on its own. The array is either the top-level value or the value of one top-level key
 * (`{"images": [...]}`). A malformed element is an InputError naming the file and the element's index.
 */
import { createReadStream } from 'node:fs';
import { InputError } from '../../common/errors.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN = new Set([0x5b, 0x7b]); // [ {
const CLOSE = new Set([0x5d, 0x7d]); // ] }
const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

export interface JsonElement {
  value: unknown;
  /** 0-based position in the array, for error messages ("record N"). */
  index: number;
}

/**
 * Yield each element of the array at the top level (`key` undefined) or under top-level `key`.
 * Errors: the file is unreadable, the key is absent, the array never closes, an element is not valid JSON.
 */
export async function* streamJsonArray(file: string, key?: string): AsyncGenerator<JsonElement> {
  let depth = 0;
  let inString = false;
  let escaped = false;
  // The array we stream opens at this depth (its elements live at arrayDepth + 1); -1 until it is found.
  let arrayDepth = -1;
  let finished = false;
  // Top-level object keys: the last string seen at depth 1 and whether a ':' followed it.
  let stringStart = -1;
  let keyBytes: Buffer[] = [];
  let lastKey: string | undefined;
  let sawFirstValue = false;
  // Current element bytes (they may span chunks).
  let elemParts: Buffer[] = [];
  let elemStart = -1;
  let index = 0;

  const parse = (bytes: Buffer): JsonElement => {
    const text = bytes.toString('utf8');
    try {
      return { value: JSON.parse(text), index: index++ };
    } catch (err) {
      throw new InputError(file, `invalid JSON (${(err as Error).message})`, String(index));
    }
  };

  let stream;
  try {
    stream = createReadStream(file, { highWaterMark: 1 << 20 });
  } catch (err) {
    throw new InputError(file, `cannot read (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      // An element that began in an earlier chunk continues at this chunk's first byte.
      if (elemParts.length > 0) elemStart = 0;
      for (let i = 0; i < chunk.length; i++) {
        const c = chunk[i]!;
        if (inString) {
          if (escaped) escaped = false;
          else if (c === BACKSLASH) escaped = true;
          else if (c === QUOTE) {
            inString = false;
            if (stringStart >= 0) {
              keyBytes.push(chunk.subarray(stringStart, i + 1));
              stringStart = -1;
            }
          }
          continue;
        }
        if (c === QUOTE) {
          inString = true;
          if (key !== undefined && depth === 1 && arrayDepth < 0) {
            keyBytes = [];
            stringStart = i;
          }
        } else if (OPEN.has(c)) {
          if (!sawFirstValue) {
            sawFirstValue = true;
            if (key === undefined && c !== 0x5b) throw new InputError(file, 'expected a JSON array at the top level');
            if (key !== undefined && c !== 0x7b) throw new InputError(file, `expected a JSON object with a "${key}" array`);
          }
          if (arrayDepth < 0 && c === 0x5b && (key === undefined ? depth === 0 : depth === 1 && lastKey === key)) {
            arrayDepth = depth;
            depth++;
            continue;
          }
          depth++;
        } else if (CLOSE.has(c)) {
          depth--;
          if (arrayDepth >= 0 && depth === arrayDepth) {
            // The array closes: emit a pending element, then stop.
            if (elemStart >= 0) {
              elemParts.push(chunk.subarray(elemStart, i));
              yield parse(Buffer.concat(elemParts));
            }
            elemParts = [];
            elemStart = -1;
            finished = true;
            break;
          }
        } else if (c === COLON && key !== undefined && depth === 1 && arrayDepth < 0) {
          lastKey = JSON.parse(Buffer.concat(keyBytes).toString('utf8')) as string;
        } else if (c === COMMA && arrayDepth >= 0 && depth === arrayDepth + 1) {
          if (elemStart < 0) throw new InputError(file, 'invalid JSON (empty array element)', String(index));
          elemParts.push(chunk.subarray(elemStart, i));
          yield parse(Buffer.concat(elemParts));
          elemParts = [];
          elemStart = -1;
          continue;
        } else if (isSpace(c)) {
          continue;
        } else if (!sawFirstValue) {
          throw new InputError(file, key === undefined ? 'expected a JSON array at the top level' : `expected a JSON object with a "${key}" array`);
        }
        // Any other byte inside the array starts (or continues) an element.
        if (arrayDepth >= 0 && depth > arrayDepth && elemStart < 0) elemStart = i;
      }
      if (finished) break;
      // Carry unfinished tokens over to the next chunk (copies: the stream may reuse its buffer).
      if (stringStart >= 0) {
        keyBytes.push(Buffer.from(chunk.subarray(stringStart)));
        stringStart = 0;
      }
      if (elemStart >= 0) {
        elemParts.push(Buffer.from(chunk.subarray(elemStart)));
        elemStart = -1;
      }
    }
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(file, `cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  } finally {
    stream.destroy();
  }
  if (!finished) {
    if (arrayDepth < 0) throw new InputError(file, key === undefined ? 'no JSON array found' : `no "${key}" array at the top level`);
    throw new InputError(file, `the JSON array ends before it is closed (truncated file?) after ${index} elements`);
  }
}
