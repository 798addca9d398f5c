/**
 * Making an existing output TSV safe to append to. A kill -9 (or power loss) can leave a row cut short, or
 * garbage after the last complete row; every complete row before it was written whole. Invalid rows at the end
 * are truncated away in place; an invalid row followed by valid ones (a file damaged some other way) makes the
 * file be rewritten without it, atomically. Returns the img_ids the file holds.
 */
import { createWriteStream, promises as fsp } from 'node:fs';
import { once } from 'node:events';
import { commitTmp, tmpPathFor } from '../common/atomic.js';
import { readLines, rowId, rowProblem } from './tsv.js';

export interface RepairReport {
  ids: Set<string>;
  rows: number;
  /** Lines removed, with the reason ("line 7: expected 10 fields"). */
  removed: string[];
}

export async function repairTsv(file: string): Promise<RepairReport> {
  const ids = new Set<string>();
  const removed: string[] = [];
  let validEnd = 0;
  let damagedMiddle = false;
  try {
    await fsp.access(file);
  } catch {
    return { ids, rows: 0, removed };
  }
  for await (const line of readLines(file)) {
    const problem = !line.terminated ? 'row cut short (no line end)' : rowProblem(line.text) ?? (ids.has(rowId(line.text)) ? `duplicate img_id ${rowId(line.text)}` : null);
    if (problem) {
      removed.push(`line ${line.lineNo}: ${problem}`);
      continue;
    }
    if (removed.length > 0) damagedMiddle = true;
    ids.add(rowId(line.text));
    validEnd = line.end;
  }
  if (removed.length === 0) return { ids, rows: ids.size, removed };
  if (!damagedMiddle) {
    await fsp.truncate(file, validEnd);
  } else {
    const tmp = tmpPathFor(file);
    const out = createWriteStream(tmp);
    const seen = new Set<string>();
    for await (const line of readLines(file)) {
      if (!line.terminated || rowProblem(line.text) || seen.has(rowId(line.text))) continue;
      seen.add(rowId(line.text));
      if (!out.write(line.text + '\r\n')) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
    await commitTmp(tmp, file);
  }
  return { ids, rows: ids.size, removed };
}
