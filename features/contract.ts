/**
 * The detector contract (features/README.md): input/output names and the checks a model must pass. The converter
 * (features/convert/) uses `checkDetectorContract` to verify what it writes.
 */
import type { InferenceSession } from 'onnxruntime-node';
import ort from 'onnxruntime-node';
import { PIXEL_MEANS_BGR, planResize } from './preprocess.js';

export interface DetectorNames {
  image: string;
  imInfo: string;
  roisIn: string;
  rois: string;
  clsProb: string;
  attrProb: string;
  features: string;
}

export const DEFAULT_NAMES: DetectorNames = {
  image: 'image',
  imInfo: 'im_info',
  roisIn: 'rois_in',
  rois: 'rois',
  clsProb: 'cls_prob',
  attrProb: 'attr_prob',
  features: 'pool5_flat',
};

export interface DetectorIO {
  names: DetectorNames;
  hasAttributes: boolean;
  hasRoisIn: boolean;
  /** The batch dimension of `image` is symbolic (or absent from the metadata): several images per run. */
  dynamicBatch: boolean;
}

function meta(list: readonly InferenceSession.ValueMetadata[], name: string): InferenceSession.ValueMetadata | undefined {
  return list.find((m) => m.name === name);
}

/** Check the session's inputs and outputs against the contract; throws an Error listing every problem. */
export function describeDetector(session: InferenceSession, names: DetectorNames, modelLabel: string): DetectorIO {
  const problems: string[] = [];
  const img = meta(session.inputMetadata, names.image);
  const info = meta(session.inputMetadata, names.imInfo);
  const roisIn = meta(session.inputMetadata, names.roisIn);
  if (!img) problems.push(`no input '${names.image}' (the image tensor)`);
  else if (img.isTensor && (img.type !== 'float32' || (img.shape.length > 0 && (img.shape.length !== 4 || (typeof img.shape[1] === 'number' && img.shape[1] !== 3)))))
    problems.push(`input '${names.image}' must be float32 [N,3,H,W] (is ${img.isTensor ? img.type : '?'} [${img.isTensor ? img.shape.join(',') : ''}])`);
  if (!info) problems.push(`no input '${names.imInfo}' (float32 [N,3]: H, W, scale)`);
  const known = new Set([names.image, names.imInfo, names.roisIn]);
  for (const n of session.inputNames) if (!known.has(n)) problems.push(`unexpected input '${n}' (inputs are ${[...known].join(', ')}; rename with the --*-input flags)`);
  for (const out of [names.rois, names.clsProb, names.features]) {
    if (!session.outputNames.includes(out)) problems.push(`no output '${out}' (outputs: ${session.outputNames.join(', ')})`);
  }
  if (problems.length > 0) throw new Error(`${modelLabel} does not meet the detector contract:\n  - ${problems.join('\n  - ')}`);
  const batchDim = img && img.isTensor ? img.shape[0] : undefined;
  return {
    names,
    hasAttributes: session.outputNames.includes(names.attrProb),
    hasRoisIn: roisIn !== undefined,
    dynamicBatch: batchDim === undefined || typeof batchDim === 'string' || batchDim === -1,
  };
}

export interface ContractReport {
  io: DetectorIO;
  /** Output shapes on a synthetic 600×800 grey image. */
  shapes: Record<string, readonly number[]>;
}

/**
 * Load a model on the CPU, check its names and run it once on a mid-grey 480×640 image resized by the contract's
 * rules (600×800): rois [R,5], cls_prob [R,C≥2] with rows summing to 1, attr_prob [R,A≥2] if present,
 * pool5_flat [R,D]. Throws an Error listing the problems; returns the shapes when the model passes.
 */
export async function checkDetectorContract(modelPath: string, names: DetectorNames = DEFAULT_NAMES): Promise<ContractReport> {
  const session = await ort.InferenceSession.create(modelPath, { executionProviders: ['cpu'] });
  try {
    const io = describeDetector(session, names, modelPath);
    const plan = planResize(480, 640);
    const image = new Float32Array(3 * plan.outH * plan.outW);
    for (let c = 0; c < 3; c++) image.fill(128 - PIXEL_MEANS_BGR[c]!, c * plan.outH * plan.outW, (c + 1) * plan.outH * plan.outW);
    const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {
      [names.image]: new ort.Tensor('float32', image, [1, 3, plan.outH, plan.outW]),
      [names.imInfo]: new ort.Tensor('float32', Float32Array.from([plan.outH, plan.outW, plan.scale]), [1, 3]),
    };
    if (io.hasRoisIn) feeds[names.roisIn] = new ort.Tensor('float32', new Float32Array(0), [0, 5]);
    const out = await session.run(feeds);
    const shapes: Record<string, readonly number[]> = {};
    for (const [k, v] of Object.entries(out)) shapes[k] = v.dims;
    const problems: string[] = [];
    const rois = out[names.rois]!;
    const cls = out[names.clsProb]!;
    const feats = out[names.features]!;
    const R = rois.dims[0] ?? -1;
    if (rois.dims.length !== 2 || rois.dims[1] !== 5) problems.push(`${names.rois} is [${rois.dims}], expected [R,5]`);
    if (cls.dims.length !== 2 || cls.dims[0] !== R || (cls.dims[1] ?? 0) < 2) problems.push(`${names.clsProb} is [${cls.dims}], expected [${R},C>=2]`);
    if (feats.dims.length !== 2 || feats.dims[0] !== R) problems.push(`${names.features} is [${feats.dims}], expected [${R},D]`);
    if (io.hasAttributes) {
      const a = out[names.attrProb]!;
      if (a.dims.length !== 2 || a.dims[0] !== R || (a.dims[1] ?? 0) < 2) problems.push(`${names.attrProb} is [${a.dims}], expected [${R},A>=2]`);
    }
    for (const t of [rois, cls, feats]) if (t.type !== 'float32') problems.push(`an output is ${t.type}, expected float32`);
    if (problems.length === 0 && R > 0) {
      const C = cls.dims[1]!;
      const p = cls.data as Float32Array;
      for (let r = 0; r < R; r++) {
        let s = 0;
        for (let c = 0; c < C; c++) s += p[r * C + c]!;
        if (Math.abs(s - 1) > 1e-3) {
          problems.push(`${names.clsProb} row ${r} sums to ${s}, expected 1 (softmax probabilities)`);
          break;
        }
      }
    }
    if (problems.length > 0) throw new Error(`${modelPath} does not meet the detector contract:\n  - ${problems.join('\n  - ')}`);
    return { io, shapes };
  } finally {
    await session.release();
  }
}
