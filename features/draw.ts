/**
 * `vlkit features show`: draw one image's boxes with class/attribute names and scores, from a feature TSV. The
 * overlay is an SVG composited by sharp onto the EXIF-oriented image (the boxes are in those coordinates).
 */
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { InputError } from '../common/errors.js';
import { readFeatureTsv, type FeatureRow } from './tsv.js';

/**
 * A vocabulary file: one name per line, line i = id i (BUTD's objects_vocab.txt / attributes_vocab.txt, 1600 and
 * 400 lines, background not listed). Lines with synonyms ("man,men") show the first.
 */
export function readVocab(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split(/\r?\n/).filter((l, i, a) => l !== '' || i < a.length - 1).map((l) => l.split(',')[0]!.trim());
  } catch (err) {
    throw new InputError(file, `cannot read vocabulary (${(err as Error).message})`);
  }
}

export async function findRow(tsv: string, imgId: string): Promise<FeatureRow | undefined> {
  for await (const row of readFeatureTsv(tsv)) if (row.imgId === imgId) return row;
  return undefined;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const COLOURS = ['#e6194b', '#3cb44b', '#ffe119', '#4363d8', '#f58231', '#911eb4', '#46f0f0', '#f032e6', '#bcf60c', '#fabebe'];

export interface DrawOptions {
  vocab?: string[];
  attrVocab?: string[];
  /** Draw the K boxes with the highest objects_conf (all when undefined). */
  top?: number;
}

/** Labels in drawing order (highest class score first), e.g. "red car 0.87 (attr 0.41)". */
export function boxLabels(row: FeatureRow, opts: DrawOptions): { box: number; label: string }[] {
  const order = Array.from({ length: row.numBoxes }, (_, i) => i).sort((a, b) => row.objectsConf[b]! - row.objectsConf[a]! || a - b);
  const chosen = opts.top !== undefined ? order.slice(0, opts.top) : order;
  const hasAttrs = row.attrsConf.some((v) => v !== 0);
  return chosen.map((i) => {
    const obj = opts.vocab?.[row.objectsId[i]!] ?? `class ${row.objectsId[i]}`;
    const attr = hasAttrs ? `${opts.attrVocab?.[row.attrsId[i]!] ?? `attr ${row.attrsId[i]}`} ` : '';
    const attrScore = hasAttrs ? ` (${row.attrsConf[i]!.toFixed(2)})` : '';
    return { box: i, label: `${attr}${obj} ${row.objectsConf[i]!.toFixed(2)}${attrScore}` };
  });
}

export async function drawBoxes(imagePath: string, row: FeatureRow, outPng: string, opts: DrawOptions): Promise<number> {
  const base = sharp(imagePath).autoOrient();
  const { width, height } = await base.clone().png().toBuffer({ resolveWithObject: true }).then((r) => r.info);
  if (width !== row.imgW || height !== row.imgH) {
    throw new InputError(imagePath, `is ${width}x${height} but the TSV row '${row.imgId}' was extracted from a ${row.imgW}x${row.imgH} image`);
  }
  const labels = boxLabels(row, opts);
  const stroke = Math.max(2, Math.round(Math.min(width, height) / 250));
  const font = Math.max(11, Math.round(Math.min(width, height) / 40));
  const parts = labels.map(({ box, label }, k) => {
    const [x1, y1, x2, y2] = Array.from(row.boxes.subarray(box * 4, box * 4 + 4));
    const c = COLOURS[k % COLOURS.length]!;
    const ty = Math.max(font, y1! - stroke);
    return (
      `<rect x="${x1}" y="${y1}" width="${Math.max(0, x2! - x1!)}" height="${Math.max(0, y2! - y1!)}" fill="none" stroke="${c}" stroke-width="${stroke}"/>` +
      `<text x="${x1! + stroke}" y="${ty}" font-family="sans-serif" font-size="${font}" fill="white" stroke="black" stroke-width="${font / 8}" paint-order="stroke">${esc(label)}</text>`
    );
  });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${parts.join('')}</svg>`;
  await base.composite([{ input: Buffer.from(svg), top: 0, left: 0 }]).png().toFile(outPng);
  return labels.length;
}
