/**
 * Tiny ONNX detectors built at test (and bench) time with onnx-proto, so the extraction pipeline runs through the
 * real onnxruntime-node against models whose outputs are known in advance.
 *
 * Every model follows the detector contract of features/README.md. Its proposals (`rois`, `cls_prob`,
 * `attr_prob`) are constants given by the caller, and its `pool5_flat` row for a box is
 *   [x1, y1, x2, y2 (the box, resized pixels), mean B, mean G, mean R (over the image tensor), H, W, scale (im_info),
 *    ...heavy features]
 * so a test can check the preprocessing (tensor size, pixel values, im_info) from the TSV it reads back.
 */
import { writeFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
type INode = onnxProto.onnx.INodeProto;
type ITensor = onnxProto.onnx.ITensorProto;
type IValueInfo = onnxProto.onnx.IValueInfoProto;
type IAttr = onnxProto.onnx.IAttributeProto;

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
const A = onnx.AttributeProto.AttributeType;

export interface DetectorSpec {
  /** Proposals [R][4] (x1, y1, x2, y2 in resized pixels); the model adds the batch-index column. */
  rois: number[][];
  /** [R][C], class 0 = background. */
  clsProb: number[][];
  /** [R][A], attribute 0 = none; omitted = a model without attributes. */
  attrProb?: number[][];
  /** Batch dimension symbolic ('N') instead of 1. */
  dynamicBatch?: boolean;
  /** A `rois_in` input [K,5]: K = 0 uses the constant proposals, else rois = rois_in and every class row is uniform. */
  roisIn?: boolean;
  /** Extra convolutions over the image (for benchmarks): their global means are appended to pool5_flat. */
  heavy?: { layers: number; channels: number; seed?: number };
  /** Rename inputs/outputs (to test the name flags). */
  names?: Partial<Record<'image' | 'im_info' | 'rois' | 'cls_prob' | 'attr_prob' | 'pool5_flat' | 'rois_in', string>>;
}

function floatTensor(name: string, dims: number[], values: ArrayLike<number>): ITensor {
  const f = Float32Array.from(values);
  return { name, dims, dataType: FLOAT, rawData: new Uint8Array(f.buffer) };
}

function int64Tensor(name: string, dims: number[], values: number[]): ITensor {
  const b = BigInt64Array.from(values.map((v) => BigInt(v)));
  return { name, dims, dataType: INT64, rawData: new Uint8Array(b.buffer) };
}

function valueInfo(name: string, elemType: number, dims: (number | string)[]): IValueInfo {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function ints(name: string, v: number[]): IAttr {
  return { name, type: A.INTS, ints: v };
}

/** A node-list builder with unique intermediate names. */
class Builder {
  nodes: INode[] = [];
  inits: ITensor[] = [];
  private n = 0;

  op(opType: string, inputs: string[], attribute: IAttr[] = [], outName?: string): string {
    const out = outName ?? `${opType.toLowerCase()}_${this.n++}`;
    this.nodes.push({ opType, input: inputs, output: [out], attribute, name: `${opType}_${this.n++}` });
    return out;
  }

  constF(dims: number[], values: ArrayLike<number>): string {
    const name = `cf_${this.n++}`;
    this.inits.push(floatTensor(name, dims, values));
    return name;
  }

  constI(values: number[], dims: number[] = [values.length]): string {
    const name = `ci_${this.n++}`;
    this.inits.push(int64Tensor(name, dims, values));
    return name;
  }
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

/** Serialise the model described by `spec` to ONNX bytes. */
export function buildDetector(spec: DetectorSpec): Uint8Array {
  const nm = { image: 'image', im_info: 'im_info', rois: 'rois', cls_prob: 'cls_prob', attr_prob: 'attr_prob', pool5_flat: 'pool5_flat', rois_in: 'rois_in', ...spec.names };
  const R = spec.rois.length;
  const C = spec.clsProb[0]!.length;
  const Aattr = spec.attrProb?.[0]?.length ?? 0;
  if (spec.roisIn && spec.dynamicBatch) throw new Error('onnx-models: rois_in models are batch-1 only');
  const b = new Builder();
  const batch: number | string = spec.dynamicBatch ? 'N' : 1;
  const inputs = [valueInfo(nm.image, FLOAT, [batch, 3, 'H', 'W']), valueInfo(nm.im_info, FLOAT, [batch, 3])];

  // Per-image features [N, 6 (+heavy)]: channel means of the tensor and im_info.
  const means = b.op('ReduceMean', [nm.image], [ints('axes', [2, 3]), { name: 'keepdims', type: A.INT, i: 0 }]);
  const perImage = [means, nm.im_info];
  if (spec.heavy) {
    const rnd = lcg(spec.heavy.seed ?? 1);
    let x = nm.image;
    let cin = 3;
    for (let l = 0; l < spec.heavy.layers; l++) {
      const cout = spec.heavy.channels;
      const w = b.constF([cout, cin, 3, 3], Array.from({ length: cout * cin * 9 }, () => rnd() * 0.2));
      const stride = l < 2 ? 2 : 1;
      x = b.op('Conv', [x, w], [ints('pads', [1, 1, 1, 1]), ints('strides', [stride, stride]), ints('kernel_shape', [3, 3])]);
      x = b.op('Relu', [x]);
      cin = cout;
    }
    perImage.push(b.op('ReduceMean', [x], [ints('axes', [2, 3]), { name: 'keepdims', type: A.INT, i: 0 }]));
  }
  const imgFeat = b.op('Concat', perImage, [{ name: 'axis', type: A.INT, i: 1 }]);
  const D = 10 + (spec.heavy?.channels ?? 0);

  const outputs: IValueInfo[] = [valueInfo(nm.rois, FLOAT, ['R', 5]), valueInfo(nm.cls_prob, FLOAT, ['R', C])];
  if (spec.attrProb) outputs.push(valueInfo(nm.attr_prob, FLOAT, ['R', Aattr]));
  outputs.push(valueInfo(nm.pool5_flat, FLOAT, ['R', D]));

  let rois: string;
  if (spec.roisIn) {
    inputs.push(valueInfo(nm.rois_in, FLOAT, ['K', 5]));
    const cond = b.op('Greater', [b.op('Size', [nm.rois_in]), b.constI([0], [])]);
    // then: the given boxes, every class/attribute row uniform; else: the constant proposals.
    const k = b.op('Unsqueeze', [b.op('Gather', [b.op('Shape', [nm.rois_in]), b.constI([0], [])]), b.constI([0])]);
    const thenB = new Builder();
    const elseB = new Builder();
    const thenOut = [thenB.op('Identity', [nm.rois_in])];
    const elseOut = [elseB.op('Identity', [elseB.constF([R, 5], spec.rois.flatMap((r) => [0, ...r]))])];
    const uniform = (width: number) =>
      thenB.op('Expand', [thenB.constF([1, width], new Array(width).fill(1 / width)), thenB.op('Concat', [k, thenB.constI([width])], [{ name: 'axis', type: A.INT, i: 0 }])]);
    thenOut.push(uniform(C));
    elseOut.push(elseB.op('Identity', [elseB.constF([R, C], spec.clsProb.flat())]));
    if (spec.attrProb) {
      thenOut.push(uniform(Aattr));
      elseOut.push(elseB.op('Identity', [elseB.constF([R, Aattr], spec.attrProb.flat())]));
    }
    const branch = (bb: Builder, outs: string[], name: string) => ({
      name,
      node: bb.nodes,
      initializer: bb.inits,
      output: outs.map((o) => ({ name: o })),
    });
    const ifOuts = [nm.rois, nm.cls_prob, ...(spec.attrProb ? [nm.attr_prob] : [])];
    b.nodes.push({
      opType: 'If',
      name: 'If_rois',
      input: [cond],
      output: ifOuts,
      attribute: [
        { name: 'then_branch', type: A.GRAPH, g: branch(thenB, thenOut, 'then') },
        { name: 'else_branch', type: A.GRAPH, g: branch(elseB, elseOut, 'else') },
      ],
    });
    rois = nm.rois;
  } else {
    const n = b.op('Unsqueeze', [b.op('Gather', [b.op('Shape', [nm.image]), b.constI([0], [])]), b.constI([0])]);
    const boxes = b.op('Tile', [b.constF([R, 4], spec.rois.flat()), b.op('Concat', [n, b.constI([1])], [{ name: 'axis', type: A.INT, i: 0 }])]);
    const idx = b.op('Cast', [b.op('Range', [b.constI([0], []), b.op('Squeeze', [n, b.constI([0])]), b.constI([1], [])])], [{ name: 'to', type: A.INT, i: FLOAT }]);
    const idx3 = b.op('Unsqueeze', [idx, b.constI([1, 2])]);
    const idxRep = b.op('Reshape', [b.op('Expand', [idx3, b.op('Concat', [n, b.constI([R, 1])], [{ name: 'axis', type: A.INT, i: 0 }])]), b.constI([-1, 1])]);
    b.op('Concat', [idxRep, boxes], [{ name: 'axis', type: A.INT, i: 1 }], nm.rois);
    const tileN = b.op('Concat', [n, b.constI([1])], [{ name: 'axis', type: A.INT, i: 0 }]);
    b.op('Tile', [b.constF([R, C], spec.clsProb.flat()), tileN], [], nm.cls_prob);
    if (spec.attrProb) b.op('Tile', [b.constF([R, Aattr], spec.attrProb.flat()), tileN], [], nm.attr_prob);
    rois = nm.rois;
  }

  // pool5_flat = [box (resized px), per-image features of the box's image].
  const boxCols = b.op('Slice', [rois, b.constI([1]), b.constI([5]), b.constI([1])]);
  const imgIdx = b.op('Cast', [b.op('Reshape', [b.op('Slice', [rois, b.constI([0]), b.constI([1]), b.constI([1])]), b.constI([-1])])], [{ name: 'to', type: A.INT, i: INT64 }]);
  const perBox = b.op('Gather', [imgFeat, imgIdx], [{ name: 'axis', type: A.INT, i: 0 }]);
  b.op('Concat', [boxCols, perBox], [{ name: 'axis', type: A.INT, i: 1 }], nm.pool5_flat);

  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'vlkit-test',
    opsetImport: [{ domain: '', version: 13 }],
    graph: { name: 'tiny_detector', node: b.nodes, initializer: b.inits, input: inputs, output: outputs },
  });
  return onnx.ModelProto.encode(model).finish();
}

export function writeDetector(file: string, spec: DetectorSpec): string {
  writeFileSync(file, buildDetector(spec));
  return file;
}
