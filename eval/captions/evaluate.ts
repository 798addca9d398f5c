/**
 * COCO caption evaluation as pycocoevalcap's COCOEvalCap does it, with pycocotools' loading rules:
 *  - the evaluated images are those of the results, in the order of the annotation file's "images" list;
 *  - references of an image are its annotations in file order; every result image must exist in the annotations
 *    and have exactly one caption;
 *  - references and results are tokenized as two texts (captions joined by "\n", newlines inside a caption turned
 *    into spaces), then pycocoevalcap's punctuation tokens are dropped;
 *  - BLEU-1..4, ROUGE-L, CIDEr-D in TypeScript; METEOR and SPICE only through the user's jars.
 */
import { InputError } from '../../common/errors.js';
import { describe, expectArray, expectObject, readJson } from '../io.js';
import { bleuEncoded } from './bleu.js';
import { ciderEncoded } from './cider.js';
import { javaAvailable, meteorWithJar, ptbTokenizeWithJar, spiceWithJar } from './java-scorers.js';
import { encodeCorpus } from './ngrams.js';
import { ptbTokenizeLines, removePunctuation } from './ptb-tokenizer.js';
import { rougeL } from './rouge.js';

export type ImageId = number | string;

export interface CaptionMetrics {
  Bleu_1: number;
  Bleu_2: number;
  Bleu_3: number;
  Bleu_4: number;
  METEOR: number | null;
  ROUGE_L: number;
  CIDEr: number;
  SPICE: number | null;
}

export interface PerImageScores {
  image_id: ImageId;
  Bleu_1: number;
  Bleu_2: number;
  Bleu_3: number;
  Bleu_4: number;
  METEOR?: number;
  ROUGE_L: number;
  CIDEr: number;
  SPICE?: number;
}

export interface CaptionEvalOptions {
  /** Stanford CoreNLP jar: tokenize with the real PTBTokenizer instead of the TypeScript one. */
  ptbJar?: string;
  meteorJar?: string;
  spiceJar?: string;
}

export interface CaptionEvalResult {
  metrics: CaptionMetrics;
  perImage: PerImageScores[];
  numImages: number;
  warnings: string[];
}

/** In-memory inputs: the references per evaluated image and one result caption per image, aligned. */
export interface CaptionSet {
  imageIds: ImageId[];
  references: string[][];
  results: string[];
}

/** Apply pycocotools' loading rules to a COCO captions annotation object and a results array. */
export function alignCaptions(annotations: unknown, results: unknown, files = { annotations: 'annotations', results: 'results' }): CaptionSet & { warnings: string[] } {
  const gt = expectObject(annotations, files.annotations, 'COCO captions annotations');
  const images = expectArray(gt.images, files.annotations, '"images"');
  const anns = expectArray(gt.annotations, files.annotations, '"annotations"');
  const refs = new Map<ImageId, string[]>();
  images.forEach((im, i) => {
    const o = expectObject(im, files.annotations, 'an image', `images[${i}]`);
    if (typeof o.id !== 'number' && typeof o.id !== 'string') throw new InputError(files.annotations, `"id" must be a number, got ${describe(o.id)}`, `images[${i}]`);
    refs.set(o.id, []);
  });
  anns.forEach((a, i) => {
    const o = expectObject(a, files.annotations, 'an annotation', `annotations[${i}]`);
    if (typeof o.caption !== 'string') throw new InputError(files.annotations, `"caption" must be a string, got ${describe(o.caption)}`, `annotations[${i}]`);
    const list = refs.get(o.image_id as ImageId);
    if (!list) throw new InputError(files.annotations, `image_id ${JSON.stringify(o.image_id)} is not in "images"`, `annotations[${i}]`);
    list.push(o.caption);
  });
  const res = new Map<ImageId, string>();
  expectArray(results, files.results, 'caption results [{image_id, caption}]').forEach((r, i) => {
    const rec = `[${i}]`;
    const o = expectObject(r, files.results, 'a result', rec);
    const id = o.image_id;
    if (typeof id !== 'number' && typeof id !== 'string') throw new InputError(files.results, `"image_id" must be a number, got ${describe(id)}`, rec);
    if (typeof o.caption !== 'string') throw new InputError(files.results, `"caption" must be a string, got ${describe(o.caption)}`, rec);
    if (!refs.has(id)) throw new InputError(files.results, `image_id ${JSON.stringify(id)} is not in the annotations (pycocotools: "Results do not correspond to current coco set")`, rec);
    if (res.has(id)) throw new InputError(files.results, `image_id ${JSON.stringify(id)} has more than one caption (pycocoevalcap asserts len(hypo) == 1)`, rec);
    res.set(id, o.caption);
  });
  const imageIds = [...refs.keys()].filter((id) => res.has(id));
  for (const id of imageIds) if (refs.get(id)!.length === 0) throw new InputError(files.annotations, `image ${JSON.stringify(id)} has no reference captions`);
  const warnings: string[] = [];
  const missing = refs.size - imageIds.length;
  if (missing > 0) warnings.push(`${missing} annotated image(s) have no result and are not evaluated (as pycocoevalcap with params['image_id'] = results' images)`);
  return { imageIds, references: imageIds.map((id) => refs.get(id)!), results: imageIds.map((id) => res.get(id)!), warnings };
}

/** Tokenize captions as pycocoevalcap does: one text, one output line per caption, punctuation tokens dropped. */
async function tokenizeAll(captions: string[], ptbJar: string | undefined, warnings: string[], what: string): Promise<string[]> {
  const text = captions.map((c) => c.replaceAll('\n', ' ')).join('\n');
  const lines = ptbJar ? await ptbTokenizeWithJar(ptbJar, text) : ptbTokenizeLines(text);
  if (lines.length !== captions.length) {
    // \r, U+2028, U+0085 ... inside a caption end a line too: pycocoevalcap then pairs captions with the wrong
    // lines from there on. We reproduce that (it is what the official numbers are), and say so.
    warnings.push(`${what}: tokenizer produced ${lines.length} lines for ${captions.length} captions (a caption contains a line break other than \\n); captions after it are misaligned exactly as in pycocoevalcap`);
  }
  return captions.map((_, i) => removePunctuation(lines[i] ?? ''));
}

export async function evaluateCaptions(set: CaptionSet, opts: CaptionEvalOptions = {}, warnings: string[] = []): Promise<CaptionEvalResult> {
  const flatRefs = set.references.flat();
  const tokRefsFlat = await tokenizeAll(flatRefs, opts.ptbJar, warnings, 'references');
  const refs: string[][] = [];
  let k = 0;
  for (const r of set.references) refs.push(tokRefsFlat.slice(k, (k += r.length)));
  const hyps = await tokenizeAll(set.results, opts.ptbJar, warnings, 'results');

  const encoded = encodeCorpus(refs, hyps);
  const b = bleuEncoded(encoded);
  const r = rougeL(refs, hyps);
  const c = ciderEncoded(encoded);
  const perImage: PerImageScores[] = set.imageIds.map((id, i) => ({
    image_id: id,
    Bleu_1: b.perImage[0]![i]!,
    Bleu_2: b.perImage[1]![i]!,
    Bleu_3: b.perImage[2]![i]!,
    Bleu_4: b.perImage[3]![i]!,
    ROUGE_L: r.perImage[i]!,
    CIDEr: c.perImage[i]!,
  }));

  let meteor: number | null = null;
  let spice: number | null = null;
  const java = opts.meteorJar || opts.spiceJar ? javaAvailable() : false;
  const unavailable: string[] = [];
  if (opts.meteorJar && java) {
    const m = await meteorWithJar(opts.meteorJar, refs, hyps);
    meteor = m.score;
    m.perImage.forEach((s, i) => (perImage[i]!.METEOR = s));
  } else unavailable.push(opts.meteorJar ? 'METEOR (java not found)' : 'METEOR (needs --meteor-jar meteor-1.5.jar)');
  if (opts.spiceJar && java) {
    const s = await spiceWithJar(opts.spiceJar, set.imageIds, refs, hyps);
    spice = s.score;
    perImage.forEach((p) => (p.SPICE = s.perImage.get(p.image_id) ?? NaN));
  } else unavailable.push(opts.spiceJar ? 'SPICE (java not found)' : 'SPICE (needs --spice-jar spice-1.0.jar)');
  if (unavailable.length > 0) warnings.push(`reported as null, not computed: ${unavailable.join(', ')}`);
  const metrics: CaptionMetrics = {
    Bleu_1: b.score[0]!,
    Bleu_2: b.score[1]!,
    Bleu_3: b.score[2]!,
    Bleu_4: b.score[3]!,
    METEOR: meteor,
    ROUGE_L: r.score,
    CIDEr: c.score,
    SPICE: spice,
  };
  return { metrics, perImage, numImages: set.imageIds.length, warnings };
}

/** `vlkit eval captions` on files: COCO captions annotations json and a results json. */
export async function evaluateCaptionFiles(annotationsFile: string, resultsFile: string, opts: CaptionEvalOptions = {}): Promise<CaptionEvalResult> {
  const { warnings, ...set } = alignCaptions(readJson(annotationsFile), readJson(resultsFile), { annotations: annotationsFile, results: resultsFile });
  if (set.imageIds.length === 0) throw new InputError(resultsFile, 'no result matches an annotated image');
  return evaluateCaptions(set, opts, warnings);
}
