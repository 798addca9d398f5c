/**
 * `vlkit features merge`: concatenate feature TSVs (e.g. the shards of one extraction, in shard order) into one,
 * refusing or dropping duplicate img_ids. A duplicated row is what breaks LXMERT's loader with "Incorrect padding"
 * in some published files, so the default is to refuse. Every row is checked; the output is written atomically.
 */
import { createWriteStream, promises as fsp } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { commitTmp, tmpPathFor } from '../common/atomic.js';
import { InputError } from '../common/errors.js';
import { readLines, rowId, rowProblem } from './tsv.js';

export type OnDuplicate = 'error' | 'drop';

export interface MergeReport {
  rows: number;
  dropped: { file: string; line: number; imgId: string; firstIn: string }[];
}

export async function mergeTsvs(inputs: string[], out: string, onDuplicate: OnDuplicate): Promise<MergeReport> {
  const outAbs = path.resolve(out);
  for (const f of inputs) if (path.resolve(f) === outAbs) throw new InputError(f, 'is both an input and --out');
  await fsp.mkdir(path.dirname(outAbs), { recursive: true });
  const tmp = tmpPathFor(outAbs);
  const ws = createWriteStream(tmp);
  const seen = new Map<string, string>();
  const report: MergeReport = { rows: 0, dropped: [] };
  try {
    for (const file of inputs) {
      for await (const line of readLines(file)) {
        if (!line.terminated && line.text === '') break;
        const problem = line.terminated ? rowProblem(line.text) : 'row cut short (no line end; re-run vlkit extract on it to repair)';
        if (problem) throw new InputError(file, problem, line.lineNo);
        const id = rowId(line.text);
        const first = seen.get(id);
        if (first !== undefined) {
          if (onDuplicate === 'error') throw new InputError(file, `img_id '${id}' is already in ${first} (use --on-duplicate drop to keep the first)`, line.lineNo);
          report.dropped.push({ file, line: line.lineNo, imgId: id, firstIn: first });
          continue;
        }
        seen.set(id, `${file}:${line.lineNo}`);
        if (!ws.write(line.text + '\r\n')) await once(ws, 'drain');
        report.rows++;
      }
    }
    ws.end();
    await once(ws, 'finish');
    await commitTmp(tmp, outAbs);
  } catch (err) {
    ws.destroy();
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  return report;
}
