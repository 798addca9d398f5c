/**
 * A synthetic vision-language dataset for the ViLT trainer's tests and benchmark: one coloured shape on a plain
 * background per image (drawn with sharp from SVG), captions and VQA questions about it, laid out as COCO Karpathy
 * captions and VQAv2 files and turned into Arrow files by the real `writeArrowDataset` (what `vlkit arrow` runs).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { writeArrowDataset } from '../pipeline/arrow/index.js';
import { mulberry32 } from '../train/engine/rng.js';

export const COLORS = { red: '#e02020', green: '#20b040', blue: '#2040e0', yellow: '#f0d020' } as const;
export const SHAPES = ['circle', 'square', 'triangle'] as const;
export type Color = keyof typeof COLORS;
export type Shape = (typeof SHAPES)[number];

export interface SynthImage {
  color: Color;
  shape: Shape;
  width: number;
  height: number;
}

export async function drawImage(im: SynthImage, rand: () => number): Promise<Buffer> {
  const { width: w, height: h } = im;
  const s = Math.min(w, h) * (0.45 + 0.2 * rand());
  const cx = s / 2 + rand() * (w - s);
  const cy = s / 2 + rand() * (h - s);
  const fill = COLORS[im.color];
  const body =
    im.shape === 'circle'
      ? `<circle cx="${cx}" cy="${cy}" r="${s / 2}" fill="${fill}"/>`
      : im.shape === 'square'
        ? `<rect x="${cx - s / 2}" y="${cy - s / 2}" width="${s}" height="${s}" fill="${fill}"/>`
        : `<polygon points="${cx},${cy - s / 2} ${cx - s / 2},${cy + s / 2} ${cx + s / 2},${cy + s / 2}" fill="${fill}"/>`;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}"><rect width="100%" height="100%" fill="#f4f4f4"/>${body}</svg>`;
  return sharp(Buffer.from(svg)).jpeg({ quality: 92 }).toBuffer();
}

function captions(im: SynthImage): string[] {
  return [`a ${im.color} ${im.shape} on a white background`, `there is one ${im.color} ${im.shape} in the picture`];
}

function pick<T>(xs: readonly T[], rand: () => number): T {
  return xs[Math.floor(rand() * xs.length)]!;
}

function images(n: number, rand: () => number): SynthImage[] {
  const sizes = [
    [64, 64],
    [80, 64],
    [64, 96],
  ] as const;
  return Array.from({ length: n }, () => {
    const [width, height] = pick(sizes, rand);
    return { color: pick(Object.keys(COLORS) as Color[], rand), shape: pick(SHAPES, rand), width, height };
  });
}

const cocoName = (split: string, id: number) => `COCO_${split}_${String(id).padStart(12, '0')}.jpg`;

export interface SynthDataset {
  /** Folder with coco_caption_karpathy_*.arrow and vqav2_*.arrow (+ ans2label.json). */
  arrow: string;
  train: SynthImage[];
  val: SynthImage[];
  test: SynthImage[];
}

/**
 * Build `nTrain` train, `nVal` val and `nTest` test images under `root`, then write the Arrow files to `root/arrow`.
 * Captions: Karpathy train/val/test. VQA: per image a colour and a shape question (ten identical answers → score 1).
 */
export async function buildSynthetic(root: string, nTrain: number, nVal: number, nTest: number, seed = 7): Promise<SynthDataset> {
  const rand = mulberry32(seed);
  const sets = { train: images(nTrain, rand), val: images(nVal, rand), test: images(nTest, rand) };
  const raw = path.join(root, 'raw');
  const folders = { train: 'train2014', val: 'val2014', test: 'test2015' } as const;
  const karpathy: unknown[] = [];
  const qs: Record<'train' | 'val' | 'test', unknown[]> = { train: [], val: [], test: [] };
  const anns: Record<'train' | 'val', unknown[]> = { train: [], val: [] };
  let id = 1;
  for (const split of ['train', 'val', 'test'] as const) {
    mkdirSync(path.join(raw, folders[split]), { recursive: true });
    for (const im of sets[split]) {
      const imageId = id++;
      const name = cocoName(folders[split], imageId);
      writeFileSync(path.join(raw, folders[split], name), await drawImage(im, rand));
      karpathy.push({
        filepath: folders[split],
        filename: name,
        split,
        sentences: captions(im).map((c) => ({ raw: c, tokens: c.split(' ') })),
      });
      const questions = [
        ['what color is the shape?', im.color],
        ['what shape is in the picture?', im.shape],
      ] as const;
      questions.forEach(([q, a], k) => {
        const qid = imageId * 10 + k;
        qs[split].push({ image_id: imageId, question: q, question_id: qid });
        if (split !== 'test') {
          anns[split].push({
            question_id: qid,
            image_id: imageId,
            multiple_choice_answer: a,
            answers: Array.from({ length: 10 }, (_, i) => ({ answer: a, answer_confidence: 'yes', answer_id: i + 1 })),
            answer_type: 'other',
            question_type: 'what',
          });
        }
      });
    }
  }
  mkdirSync(path.join(raw, 'karpathy'), { recursive: true });
  writeFileSync(path.join(raw, 'karpathy/dataset_coco.json'), JSON.stringify({ images: karpathy, dataset: 'coco' }));
  const qfile = (split: string) => path.join(raw, `v2_OpenEnded_mscoco_${split}_questions.json`);
  writeFileSync(qfile('train2014'), JSON.stringify({ questions: qs.train }));
  writeFileSync(qfile('val2014'), JSON.stringify({ questions: qs.val }));
  writeFileSync(qfile('test2015'), JSON.stringify({ questions: qs.test }));
  writeFileSync(qfile('test-dev2015'), JSON.stringify({ questions: qs.test }));
  writeFileSync(path.join(raw, 'v2_mscoco_train2014_annotations.json'), JSON.stringify({ annotations: anns.train }));
  writeFileSync(path.join(raw, 'v2_mscoco_val2014_annotations.json'), JSON.stringify({ annotations: anns.val }));
  const arrow = path.join(root, 'arrow');
  await writeArrowDataset({ dataset: 'coco', root: raw, out: arrow, batchBytes: 64 * 1024 });
  await writeArrowDataset({ dataset: 'vqav2', root: raw, out: arrow, batchBytes: 64 * 1024 });
  return { arrow, ...sets };
}

/**
 * NLVR2 layout (json lines + image pairs) written by `writeArrowDataset('nlvr2')`: each pair holds two shapes and
 * one sentence "the left image has a <colour> shape", True when image_0 has that colour.
 */
export async function buildNlvr2Synthetic(root: string, counts: { train: number; dev: number; test1: number }, seed = 11): Promise<string> {
  const rand = mulberry32(seed);
  const raw = path.join(root, 'raw');
  const colors = Object.keys(COLORS) as Color[];
  for (const split of ['train', 'dev', 'test1'] as const) {
    const lines: string[] = [];
    for (let i = 0; i < counts[split]; i++) {
      const pair = `${split}-${i}-0`;
      const ims = images(2, rand);
      const dir = split === 'train' ? path.join(raw, 'images/train', String(i % 2)) : path.join(raw, split);
      mkdirSync(dir, { recursive: true });
      for (let k = 0; k < 2; k++) writeFileSync(path.join(dir, `${pair}-img${k}.png`), await drawImage(ims[k]!, rand));
      const asked = rand() < 0.5 ? ims[0]!.color : pick(colors, rand);
      lines.push(JSON.stringify({ identifier: `${pair}-0`, directory: i % 2, sentence: `the left image has a ${asked} shape`, label: asked === ims[0]!.color ? 'True' : 'False' }));
    }
    mkdirSync(path.join(raw, 'nlvr2/data/balanced'), { recursive: true });
    mkdirSync(path.join(raw, 'nlvr2/data/unbalanced'), { recursive: true });
    writeFileSync(path.join(raw, `nlvr2/data/${split}.json`), lines.join('\n') + '\n');
    if (split !== 'train') {
      writeFileSync(path.join(raw, `nlvr2/data/balanced/balanced_${split}.json`), '');
      writeFileSync(path.join(raw, `nlvr2/data/unbalanced/unbalanced_${split}.json`), '');
    }
  }
  const arrow = path.join(root, 'arrow');
  await writeArrowDataset({ dataset: 'nlvr2', root: raw, out: arrow, batchBytes: 64 * 1024 });
  return arrow;
}
