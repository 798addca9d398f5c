/**
 * A synthetic VQA-style task for the LXMERT trainer tests (not a test file itself). Each image has 4 regions, one
 * in each quadrant (jittered, stored in random order); a region's feature vector encodes its colour (one-hot in the
 * first 4 of 16 values, plus noise), only its box says where it is. "what colour is the object in the top left?"
 * is answered by the colour of the region whose box lies in that quadrant: the answer needs the sentence, the
 * boxes and the features together, and a model that ignores any of them stays near chance (25%). Written as a real
 * feature TSV (features/ writer) + LXMERT-format json files.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { encodeRow } from '../features/tsv.js';
import { Rng } from '../train/engine/index.js';

export const COLOURS = ['red', 'green', 'blue', 'yellow'];
export const FEAT_DIM = 16;
const BOXES = 4;
const W = 640;
const H = 480;

export interface SyntheticFiles {
  features: string;
  train: string;
  valid: string;
  test: string;
  ans2label: string;
  /** LXMERT pretraining json (captions + questions per image) for the train / valid images. */
  pretrainTrain: string;
  pretrainValid: string;
  /** Test questions: id → correct answer. */
  testAnswers: Map<number, string>;
}

const PLACES = ['top left', 'top right', 'bottom left', 'bottom right'];

interface Image {
  id: string;
  /** Colour of the region in each of PLACES. */
  colours: string[];
}

export function writeSyntheticVqa(dir: string, opts: { images: number; seed?: number }): SyntheticFiles {
  const r = Rng.from(opts.seed ?? 7, 'synthetic');
  const rows: string[] = [];
  const images: Image[] = [];
  for (let i = 0; i < opts.images; i++) {
    const boxes = new Float32Array(BOXES * 4);
    const features = new Float32Array(BOXES * FEAT_DIM);
    const colours: string[] = [];
    const order = r.permutation(BOXES);
    for (let b = 0; b < BOXES; b++) {
      const q = order[b]!;
      const c = r.int(COLOURS.length);
      colours[q] = COLOURS[c]!;
      const x = (q % 2) * (W / 2) + r.float() * (W / 2 - 100);
      const y = Math.floor(q / 2) * (H / 2) + r.float() * (H / 2 - 100);
      boxes.set([x, y, x + 40 + r.float() * 50, y + 40 + r.float() * 50], b * 4);
      for (let k = 0; k < FEAT_DIM; k++) features[b * FEAT_DIM + k] = 0.1 * r.normal();
      features[b * FEAT_DIM + c] += 1;
    }
    const id = `synth_${String(i).padStart(5, '0')}`;
    images.push({ id, colours });
    rows.push(
      encodeRow({
        imgId: id,
        imgH: H,
        imgW: W,
        numBoxes: BOXES,
        dim: FEAT_DIM,
        boxes,
        features,
        // Detector labels for the pretraining tests: object class = colour, attribute class = quadrant.
        objectsId: Int32Array.from(order, (q) => COLOURS.indexOf(colours[q]!)),
        objectsConf: new Float32Array(BOXES).fill(0.9),
        attrsId: Int32Array.from(order),
        attrsConf: new Float32Array(BOXES).fill(0.5),
      }),
    );
  }
  const features = path.join(dir, 'feats.tsv');
  writeFileSync(features, rows.join(''));
  const questions = (from: number, to: number) =>
    images.slice(from, to).flatMap((img, k) =>
      PLACES.map((place, p) => ({
        question_id: (from + k) * 10 + p,
        img_id: img.id,
        sent: `What colour is the object in the ${place}?`,
        label: { [img.colours[p]!]: 1 },
      })),
    );
  const n = opts.images;
  const split = [Math.floor(n * 0.7), Math.floor(n * 0.85)];
  const files = { train: questions(0, split[0]!), valid: questions(split[0]!, split[1]!), test: questions(split[1]!, n) };
  const out: Partial<SyntheticFiles> = { features, testAnswers: new Map(files.test.map((q) => [q.question_id, Object.keys(q.label)[0]!])) };
  for (const [name, qs] of Object.entries(files)) {
    const file = path.join(dir, `${name}.json`);
    writeFileSync(file, JSON.stringify(qs));
    (out as Record<string, unknown>)[name] = file;
  }
  out.ans2label = path.join(dir, 'ans2label.json');
  // A few answers that never occur, as a real answer vocabulary has.
  writeFileSync(out.ans2label, JSON.stringify(Object.fromEntries([...COLOURS, 'yes', 'no', '2'].map((a, i) => [a, i]))));
  // LXMERT's pretraining format: captions (no label) and questions (labelf) per image.
  const pretrain = (from: number, to: number) =>
    images.slice(from, to).map((img) => ({
      img_id: img.id,
      sentf: { synth: PLACES.map((p, k) => `the object in the ${p} is ${img.colours[k]}`), synthqa: PLACES.map((p) => `what colour is the object in the ${p}?`) },
      labelf: { synthqa: PLACES.map((_, k) => ({ [img.colours[k]!]: 1 })) },
    }));
  out.pretrainTrain = path.join(dir, 'pretrain_train.json');
  out.pretrainValid = path.join(dir, 'pretrain_valid.json');
  writeFileSync(out.pretrainTrain, JSON.stringify(pretrain(0, split[0]!)));
  writeFileSync(out.pretrainValid, JSON.stringify(pretrain(split[0]!, split[1]!)));
  return out as SyntheticFiles;
}
