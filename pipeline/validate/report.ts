/**
 * The report: JSON lines, one per file, keys in this order:
 * `{"path", "ok", "error"?, "message"?, "format", "width", "height", "channels", "bytes", "sha256"}`.
 *
 * Crash safety (`--resume` after kill -9): lines are appended whole (each write() carries complete lines only) and
 * fsync'd about once a second and at the end. A kill can still cut the very last write short, so resuming reads
 * every complete line, truncates a trailing partial line, and appends from there — each file ends up in the
 * report exactly once.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import { InputError } from '../../common/errors.js';
import { ERROR_CLASSES, type ImageFacts } from './classify.js';

export interface ReportLine extends ImageFacts {
  path: string;
}

/** One report line (with its newline), keys in the contract's order. */
export function serializeLine(path: string, f: ImageFacts): string {
  const line: Record<string, unknown> = { path, ok: f.ok };
  if (!f.ok) {
    line.error = f.error;
    line.message = f.message;
  }
  line.format = f.format;
  line.width = f.width;
  line.height = f.height;
  line.channels = f.channels;
  line.bytes = f.bytes;
  line.sha256 = f.sha256;
  return JSON.stringify(line) + '\n';
}

function parseLine(file: string, lineNo: number, text: string): ReportLine {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new InputError(file, 'not a JSON line; is this a vlkit validate report?', lineNo);
  }
  const r = v as Partial<ReportLine>;
  const ok =
    typeof r === 'object' && r !== null && typeof r.path === 'string' && typeof r.ok === 'boolean' &&
    typeof r.sha256 === 'string' && typeof r.bytes === 'number' &&
    (r.ok || (ERROR_CLASSES as readonly string[]).includes(r.error as string));
  if (!ok) throw new InputError(file, 'not a validate report line (needs path, ok, error class, bytes, sha256)', lineNo);
  return r as ReportLine;
}

/**
 * Read every complete line of an existing report, streaming. Returns the byte length of the complete lines: a
 * trailing fragment after the last newline (a write cut by a kill) lies beyond it.
 */
export async function readReport(file: string, onLine: (line: ReportLine) => void): Promise<number> {
  let carry = Buffer.alloc(0);
  let complete = 0;
  let lineNo = 0;
  for await (const chunk of createReadStream(file)) {
    let buf = carry.length ? Buffer.concat([carry, chunk as Buffer]) : (chunk as Buffer);
    let nl: number;
    while ((nl = buf.indexOf(0x0a)) !== -1) {
      lineNo++;
      const text = buf.toString('utf8', 0, nl);
      if (text.trim() !== '') onLine(parseLine(file, lineNo, text));
      complete += nl + 1;
      buf = buf.subarray(nl + 1);
    }
    carry = Buffer.from(buf);
  }
  return complete;
}

/** Appends whole lines; fsync at most every `syncEveryMs` and on close. */
export class ReportWriter {
  private lastSync = Date.now();

  private constructor(
    private readonly handle: fsp.FileHandle,
    private readonly syncEveryMs: number,
  ) {}

  /** Open for appending after `validBytes` (anything beyond — a partial last line — is cut off first). */
  static async open(file: string, validBytes: number, syncEveryMs = 1000): Promise<ReportWriter> {
    const handle = await fsp.open(file, 'a');
    const { size } = await handle.stat();
    if (size > validBytes) {
      await handle.truncate(validBytes);
      await handle.sync();
    }
    return new ReportWriter(handle, syncEveryMs);
  }

  /** Append complete lines in one write. */
  async write(lines: string): Promise<void> {
    if (lines === '') return;
    await this.handle.write(lines);
    if (Date.now() - this.lastSync >= this.syncEveryMs) {
      await this.handle.sync();
      this.lastSync = Date.now();
    }
  }

  async close(): Promise<void> {
    await this.handle.sync();
    await this.handle.close();
  }
}
