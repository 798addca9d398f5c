/**
 * NLVR2 (ViLT's write_nlvr2.py): the json-lines files of each split, one row per image pair. A pair's key is the
 * identifier without its last `-` part; its sentences and labels are gathered in file order, rows follow the first
 * appearance of each pair. Train images are `images/train/<directory>/<pair>-img{0,1}.png`, the other splits'
 * `<split prefix of the pair>/<pair>-img{0,1}.png` under --root.
 */
import path from 'node:path';
import { InputError } from '../../../common/errors.js';
import { readJsonLines } from '../../../common/jsonl.js';
import { field, isString, type Adapter, type AdapterContext, type PlannedRow } from '../plan.js';
import type { Column } from '../writer.js';
import { listOf } from '../writer.js';

export const NLVR2_COLUMNS: Column[] = [
  { name: 'image_0', type: 'binary' },
  { name: 'image_1', type: 'binary' },
  { name: 'questions', type: listOf('string') },
  { name: 'answers', type: listOf('string') },
  { name: 'identifier', type: 'string' },
];

const SPLIT_FILES: [string, string][] = [
  ['train', 'nlvr2/data/train.json'],
  ['dev', 'nlvr2/data/dev.json'],
  ['test1', 'nlvr2/data/test1.json'],
  ['balanced_dev', 'nlvr2/data/balanced/balanced_dev.json'],
  ['balanced_test1', 'nlvr2/data/balanced/balanced_test1.json'],
  ['unbalanced_dev', 'nlvr2/data/unbalanced/unbalanced_dev.json'],
  ['unbalanced_test1', 'nlvr2/data/unbalanced/unbalanced_test1.json'],
];

async function planSplit(ctx: AdapterContext, file: string): Promise<PlannedRow[]> {
  const pairs = new Map<string, { sentences: string[]; labels: string[]; directory: unknown; line: number }>();
  for await (const { value: rec, line: lineNo } of readJsonLines(file)) {
    const identifier = field(rec, 'identifier', isString, 'a string', file, lineNo);
    const pair = identifier.split('-').slice(0, -1).join('-');
    let e = pairs.get(pair);
    if (!e) pairs.set(pair, (e = { sentences: [], labels: [], directory: (rec as { directory?: unknown }).directory, line: lineNo }));
    e.sentences.push(field(rec, 'sentence', isString, 'a string', file, lineNo));
    e.labels.push(field(rec, 'label', isString, 'a string ("True"/"False")', file, lineNo));
  }
  const rows: PlannedRow[] = [];
  for (const [pair, e] of pairs) {
    const record = e.line;
    let stem: string;
    if (pair.startsWith('train')) {
      // Only the pair's first record's directory counts, as in ViLT.
      if (typeof e.directory !== 'string' && !Number.isInteger(e.directory)) {
        throw new InputError(file, `"directory" must be a folder name (got ${JSON.stringify(e.directory)})`, record);
      }
      stem = path.join('images/train', String(e.directory), pair);
    } else {
      stem = path.join(pair.split('-')[0]!, pair);
    }
    const images = [0, 1].map((k) => ctx.gate.inRoot(`${stem}-img${k}.png`, file, record));
    if (ctx.gate.admit(images, file, record)) rows.push({ images, values: [e.sentences, e.labels, pair] });
  }
  return rows;
}

export const nlvr2: Adapter = async (ctx) => {
  const passes = [];
  for (const [split, rel] of SPLIT_FILES) {
    const rows = await planSplit(ctx, path.join(ctx.root, rel));
    passes.push({ outputs: [{ name: `nlvr2_${split}.arrow`, columns: NLVR2_COLUMNS }], rows });
  }
  return { passes };
};
