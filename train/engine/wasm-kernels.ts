/**
 * Kernels the TensorFlow.js wasm backend lacks (or runs slowly) for training, registered from JS.
 *
 * - UnsortedSegmentSum: the gradient of gather/embedding lookups. Missing on wasm, so any model with an embedding
 *   cannot train there without it. A tight loop over the wasm heap (typed-array views, no per-element calls).
 * - Conv2DBackpropFilter: every conv weight gradient. im2col by row copies on the heap, then one matrix product
 *   through the (overridden) BatchMatMul kernel so XNNPACK does the arithmetic.
 * - Conv2DBackpropInput override: dy·Wᵀ through the BatchMatMul path (XNNPACK), then col2im, instead of the stock
 *   direct loop (bench/train-matmul.ts measures both).
 * - DepthwiseConv2dNativeBackpropFilter / -Input: the same im2col, then per-channel batched products.
 * - BatchMatMul override: the stock kernel reaches XNNPACK only when neither input is transposed and the batch is 1;
 *   A^T·B and A·B^T (both halves of every Dense backward) fall to a naive loop ~10-20x slower. The override
 *   transposes explicitly (a cheap copy) and folds a's batch into rows when b is unbatched, then calls the stock
 *   kernel on the shape it handles fast.
 * - Identity override (tf.clone): the engine clones every tensor it keeps for a gradient — each weight a matMul
 *   reads included — and the stock wasm kernel copies the buffer, so a training step held a second copy of the
 *   model's weights (lxr955: +0.86 GB, the difference between fitting the ~4 GiB heap and not). tfjs tensors are
 *   immutable (Variable.assign swaps in new data), so the override shares the buffer and counts a reference, as the
 *   cpu backend's Identity and the wasm Reshape do.
 *
 * All kernels follow the cpu backend's semantics; test/train-kernels.test.ts checks values and gradients against it.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

type Info = tf.TensorInfo;
type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

/** Kernels that replace a stock one: the stock config, to call and to restore. */
const stock = new Map<string, tf.KernelConfig>();
/** Kernels this module added where the backend had none. */
const added = new Set<string>();

function stockKernel(name: string): tf.KernelConfig {
  const k = stock.get(name) ?? tf.getKernel(name, 'wasm');
  if (!k) throw new Error(`wasm backend has no ${name} kernel (is @tensorflow/tfjs-backend-wasm loaded?)`);
  return k;
}

/** Run a stock wasm kernel from inside another kernel. */
function run(name: string, backend: BackendWasm, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap = {}): Info {
  return stockKernel(name).kernelFunc({ inputs, backend, attrs }) as Info;
}

/** Same data, other shape (wasm Reshape only relabels; the stock kernels incRef/dispose as they need). */
function view(t: Info, shape: number[]): Info {
  return { dataId: t.dataId, shape, dtype: t.dtype };
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function transposeLast2(t: Info, backend: BackendWasm): Info {
  const r = t.shape.length;
  const perm = [...Array(r).keys()];
  [perm[r - 2], perm[r - 1]] = [perm[r - 1]!, perm[r - 2]!];
  return run('Transpose', backend, { x: t }, { perm });
}

// ---------------------------------------------------------------------------------------------------------------
// BatchMatMul

function batchMatMul({ inputs, backend, attrs }: KernelArgs): Info {
  const be = backend as BackendWasm;
  let { a, b } = inputs as { a: Info; b: Info };
  const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
  const temps: Info[] = [];
  if (transposeA) temps.push((a = transposeLast2(a, be)));
  if (transposeB) temps.push((b = transposeLast2(b, be)));
  const [m, k] = a.shape.slice(-2) as [number, number];
  const n = b.shape[b.shape.length - 1]!;
  const batchA = size(a.shape.slice(0, -2));
  const batchB = size(b.shape.slice(0, -2));
  let out: Info;
  if (batchB === 1 && batchA > 1) {
    // b is shared by every batch item: one [batchA·m, k] × [k, n] product instead of batchA small ones.
    const outer = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
    out = run('BatchMatMul', be, { a: view(a, [1, batchA * m, k]), b: view(b, [1, k, n]) }, { transposeA: false, transposeB: false });
    out.shape = [...outer, m, n];
  } else if (batchB > 1 && (batchA === batchB || batchA === 1) && m * k * n >= PER_ITEM_MIN_MACS) {
    const outer = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
    out = perItemMatMul(be, a, b, batchB, batchA === 1, [m, k, n]);
    out.shape = [...outer, m, n];
  } else {
    out = run('BatchMatMul', be, { a, b }, { transposeA: false, transposeB: false });
  }
  for (const t of temps) be.disposeData(t.dataId);
  return out;
}

/**
 * Below this many multiply-adds per batch item the stock naive loop beats one XNNPACK call per item (operator
 * creation and weight packing per call); attention products (T×d_head×T, e.g. 56·64·56 = 200k) are well above it.
 */
const PER_ITEM_MIN_MACS = 65536;

let wasmBatchMatMul: ((...args: unknown[]) => void) | null = null;

/**
 * A true batched product (attention's Q·Kᵀ and P·V, their gradients) as one XNNPACK call per batch item: the stock
 * kernel sends any batch > 1 to a naive loop (~1 GFLOP/s against ~15 on XNNPACK). Each item is a tensor registered
 * at an offset inside a's, b's and the output's buffers (no copies); the views are unregistered without freeing,
 * which also drops the XNNPACK operator cached for the item's b.
 */
function perItemMatMul(be: BackendWasm, a: Info, b: Info, batch: number, aShared: boolean, [m, k, n]: [number, number, number]): Info {
  wasmBatchMatMul ??= (be.wasm as unknown as { cwrap: (...a: unknown[]) => unknown }).cwrap('BatchMatMul', null, ['number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number']) as (...args: unknown[]) => void;
  const out = be.makeOutput([batch, m, n], 'float32');
  const base = (t: Info) => (be as unknown as { dataIdMap: { get(id: object): { memoryOffset: number } } }).dataIdMap.get(t.dataId).memoryOffset;
  const [aOff, bOff, oOff] = [base(a), base(b), base(out)];
  const shapeBytes = (s: number[]) => new Uint8Array(new Int32Array(s).buffer);
  const aShape = shapeBytes([1, m, k]);
  const bShape = shapeBytes([1, k, n]);
  const ids = (be as unknown as { dataIdMap: { get(id: object): { id: number }; delete(id: object): void } }).dataIdMap;
  for (let i = 0; i < batch; i++) {
    const ai = be.makeOutput([1, m, k], 'float32', aOff + (aShared ? 0 : i * m * k * 4));
    const bi = be.makeOutput([1, k, n], 'float32', bOff + i * k * n * 4);
    const oi = be.makeOutput([1, m, n], 'float32', oOff + i * m * n * 4);
    wasmBatchMatMul(ids.get(ai.dataId).id, aShape, 3, ids.get(bi.dataId).id, bShape, 3, false, false, ids.get(oi.dataId).id);
    for (const v of [ai, bi, oi]) {
      be.wasm.tfjs.disposeData(ids.get(v.dataId).id);
      ids.delete(v.dataId);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// UnsortedSegmentSum

function unsortedSegmentSum({ inputs, backend, attrs }: KernelArgs): Info {
  const be = backend as BackendWasm;
  const { x, segmentIds } = inputs as { x: Info; segmentIds: Info };
  const numSegments = (attrs as { numSegments: number }).numSegments;
  const n = size(segmentIds.shape);
  const inner = n === 0 ? 0 : size(x.shape) / n;
  const outShape = [numSegments, ...x.shape.slice(segmentIds.shape.length)];
  // makeOutput may grow the heap, which detaches older views: take the views after it.
  const out = be.makeOutput(outShape, x.dtype);
  const o = be.typedArrayFromHeap(out) as Float32Array | Int32Array;
  const xs = be.typedArrayFromHeap(x) as Float32Array | Int32Array;
  const ids = be.typedArrayFromHeap(segmentIds) as Int32Array;
  o.fill(0);
  for (let i = 0; i < n; i++) {
    const s = ids[i]!;
    // TensorFlow drops ids outside [0, numSegments) rather than failing.
    if (s < 0 || s >= numSegments) continue;
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) o[dst + j] += xs[src + j]!;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Convolution gradients (NHWC, dilation 1 — tfjs-core has no gradient for dilated convs anyway).
// Avoid a numeric `pad` with non-square filters: tfjs-core itself computes that output width from the filter
// height, and the stock wasm forward kernel then disagrees with cpu (wrong values or an out-of-bounds crash).
// 'same', 'valid' and explicit [[0,0],[t,b],[l,r],[0,0]] padding are consistent everywhere.

interface ConvAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

function convInfo(xShape: number[], attrs: ConvAttrs, depthwise: boolean): tf.backend_util.Conv2DInfo {
  if (attrs.dataFormat === 'NCHW') throw new Error('wasm conv gradient kernels support NHWC only');
  const d = attrs.dilations ?? 1;
  if (d !== 1 && !(Array.isArray(d) && d[0] === 1 && d[1] === 1)) throw new Error('wasm conv gradient kernels support dilation 1 only');
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    depthwise,
    'channelsLast',
  );
}

/**
 * im2col: rows are output positions (n, oy, ox), columns are (fy, fx, c) — the flattened filter layout — with zeros
 * where the window hangs over the padding. Each (row, fy) is one contiguous run of up to fw·C input values.
 */
function im2col(x: Info, ci: tf.backend_util.Conv2DInfo, be: BackendWasm): Info {
  const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth, strideHeight, strideWidth, filterHeight: fh, filterWidth: fw } = ci;
  const top = ci.padInfo.top;
  const left = ci.padInfo.left;
  const rowLen = fh * fw * c;
  const cols = be.makeOutput([batchSize * outHeight * outWidth, rowLen], 'float32');
  const o = be.typedArrayFromHeap(cols) as Float32Array;
  const xs = be.typedArrayFromHeap(x) as Float32Array;
  o.fill(0);
  let row = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++, row++) {
        const x0 = ox * strideWidth - left;
        const fxLo = Math.max(0, -x0);
        const fxHi = Math.min(fw, inWidth - x0);
        if (fxHi <= fxLo) continue;
        for (let fy = 0; fy < fh; fy++) {
          const y = oy * strideHeight - top + fy;
          if (y < 0 || y >= inHeight) continue;
          const src = ((b * inHeight + y) * inWidth + x0 + fxLo) * c;
          const dst = row * rowLen + (fy * fw + fxLo) * c;
          o.set(xs.subarray(src, src + (fxHi - fxLo) * c), dst);
        }
      }
    }
  }
  return cols;
}

/** col2im: the adjoint of im2col (overlapping windows add up). */
function col2im(cols: Info, ci: tf.backend_util.Conv2DInfo, be: BackendWasm): Info {
  const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth, strideHeight, strideWidth, filterHeight: fh, filterWidth: fw } = ci;
  const top = ci.padInfo.top;
  const left = ci.padInfo.left;
  const rowLen = fh * fw * c;
  const dx = be.makeOutput([batchSize, inHeight, inWidth, c], 'float32');
  const o = be.typedArrayFromHeap(dx) as Float32Array;
  const cs = be.typedArrayFromHeap(cols) as Float32Array;
  o.fill(0);
  let row = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++, row++) {
        const x0 = ox * strideWidth - left;
        const fxLo = Math.max(0, -x0);
        const fxHi = Math.min(fw, inWidth - x0);
        for (let fy = 0; fy < fh; fy++) {
          const y = oy * strideHeight - top + fy;
          if (y < 0 || y >= inHeight || fxHi <= fxLo) continue;
          const dst = ((b * inHeight + y) * inWidth + x0 + fxLo) * c;
          const src = row * rowLen + (fy * fw + fxLo) * c;
          const len = (fxHi - fxLo) * c;
          for (let j = 0; j < len; j++) o[dst + j] += cs[src + j]!;
        }
      }
    }
  }
  return dx;
}

function conv2DBackpropFilter({ inputs, backend, attrs }: KernelArgs): Info {
  const be = backend as BackendWasm;
  const { x, dy } = inputs as { x: Info; dy: Info };
  const a = attrs as unknown as ConvAttrs;
  const ci = convInfo(x.shape, a, false);
  const cols = im2col(x, ci, be);
  const p = cols.shape[0]!;
  // dW[(fy,fx,ci), co] = colsᵀ · dy
  const dw = batchMatMul({
    inputs: { a: view(cols, [1, p, cols.shape[1]!]), b: view(dy, [1, p, ci.outChannels]) },
    backend: be,
    attrs: { transposeA: true, transposeB: false },
  });
  be.disposeData(cols.dataId);
  dw.shape = [...a.filterShape];
  return dw;
}

function conv2DBackpropInput({ inputs, backend, attrs }: KernelArgs): Info {
  const be = backend as BackendWasm;
  const { dy, filter } = inputs as { dy: Info; filter: Info };
  const a = attrs as unknown as ConvAttrs & { inputShape: [number, number, number, number] };
  const filterShape = filter.shape as [number, number, number, number];
  const ci = convInfo(a.inputShape, { ...a, filterShape }, false);
  const [fh, fw, cin, cout] = filterShape;
  const p = ci.batchSize * ci.outHeight * ci.outWidth;
  // dcols (P × fh·fw·cin) = dy (P × cout) · Wᵀ (cout × fh·fw·cin), then scatter-add back to image positions.
  const dcols = batchMatMul({
    inputs: { a: view(dy, [1, p, cout]), b: view(filter, [1, fh * fw * cin, cout]) },
    backend: be,
    attrs: { transposeA: false, transposeB: true },
  });
  const dx = col2im(view(dcols, [p, fh * fw * cin]), ci, be);
  be.disposeData(dcols.dataId);
  return dx;
}

function depthwiseBackpropFilter({ inputs, backend, attrs }: KernelArgs): Info {
  const be = backend as BackendWasm;
  const { x, dy } = inputs as { x: Info; dy: Info };
  const a = attrs as unknown as ConvAttrs;
  const ci = convInfo(x.shape, a, true);
  const [fh, fw, c, mult] = a.filterShape;
  const f = fh * fw;
  const cols = im2col(x, ci, be);
  const p = cols.shape[0]!;
  // Per channel: dW[c] (f × mult) = cols[:, :, c]ᵀ (f × P) · dy[:, c, :] (P × mult).
  const colsC = run('Transpose', be, { x: view(cols, [p, f, c]) }, { perm: [2, 1, 0] }); // [c, f, P]
  const dyC = run('Transpose', be, { x: view(dy, [p, c, mult]) }, { perm: [1, 0, 2] }); // [c, P, mult]
  const prod = batchMatMul({ inputs: { a: colsC, b: dyC }, backend: be, attrs: { transposeA: false, transposeB: false } }); // [c, f, mult]
  const dw = run('Transpose', be, { x: prod }, { perm: [1, 0, 2] }); // [f, c, mult]
  for (const t of [cols, colsC, dyC, prod]) be.disposeData(t.dataId);
  dw.shape = [fh, fw, c, mult];
  return dw;
}

function depthwiseBackpropInput({ inputs, backend, attrs }: KernelArgs): Info {
  const be = backend as BackendWasm;
  const { dy, filter } = inputs as { dy: Info; filter: Info };
  const a = attrs as unknown as ConvAttrs & { inputShape: [number, number, number, number] };
  const ci = convInfo(a.inputShape, { ...a, filterShape: filter.shape as [number, number, number, number] }, true);
  const [fh, fw, c, mult] = filter.shape as [number, number, number, number];
  const f = fh * fw;
  const p = ci.batchSize * ci.outHeight * ci.outWidth;
  // dcols[:, :, c] (P × f) = dy[:, c, :] (P × mult) · W[:, c, :]ᵀ (mult × f), then col2im.
  const dyC = run('Transpose', be, { x: view(dy, [p, c, mult]) }, { perm: [1, 0, 2] }); // [c, P, mult]
  const wC = run('Transpose', be, { x: view(filter, [f, c, mult]) }, { perm: [1, 0, 2] }); // [c, f, mult]
  const prod = batchMatMul({ inputs: { a: dyC, b: wC }, backend: be, attrs: { transposeA: false, transposeB: true } }); // [c, P, f]
  const dcols = run('Transpose', be, { x: prod }, { perm: [1, 2, 0] }); // [P, f, c]
  const dx = col2im(view(dcols, [p, f * c]), ci, be);
  for (const t of [dyC, wC, prod, dcols]) be.disposeData(t.dataId);
  return dx;
}

// ---------------------------------------------------------------------------------------------------------------
// Identity

function identity({ inputs, backend }: KernelArgs): Info {
  const { x } = inputs as { x: Info };
  if (x.dtype === 'string') return run('Identity', backend as BackendWasm, inputs);
  (backend as BackendWasm).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

// ---------------------------------------------------------------------------------------------------------------
// Registration

const FILLS: Array<[string, (args: KernelArgs) => Info]> = [
  ['UnsortedSegmentSum', unsortedSegmentSum],
  ['Conv2DBackpropFilter', conv2DBackpropFilter],
  ['DepthwiseConv2dNativeBackpropFilter', depthwiseBackpropFilter],
  ['DepthwiseConv2dNativeBackpropInput', depthwiseBackpropInput],
];

/** Stock kernels replaced: [name, replacement, the WasmKernelOptions flag that switches it off]. */
const OVERRIDES: Array<[string, (args: KernelArgs) => Info, keyof WasmKernelOptions]> = [
  ['BatchMatMul', batchMatMul, 'batchMatMul'],
  ['Conv2DBackpropInput', conv2DBackpropInput, 'conv2DBackpropInput'],
  ['Identity', identity, 'identity'],
];

export interface WasmKernelOptions {
  /** Replace the stock BatchMatMul with the transpose-folding one (default true; false for benchmarks). */
  batchMatMul?: boolean;
  /** Replace the stock Conv2DBackpropInput with im2col-style dy·Wᵀ + col2im (default true). */
  conv2DBackpropInput?: boolean;
  /** Replace the stock (copying) Identity with one that shares the buffer (default true). */
  identity?: boolean;
}

/** Names of the kernels registered by the last call, for the log line. */
export function registeredWasmKernels(): string[] {
  return [...added, ...stock.keys()];
}

/**
 * Register the fills (only where the backend has no kernel of that name) and the BatchMatMul override.
 * Idempotent; call again with other options to switch the override on or off.
 */
export function registerWasmKernels(opts: WasmKernelOptions = {}): string[] {
  for (const [name, fn] of FILLS) {
    if (added.has(name) || tf.getKernel(name, 'wasm')) continue;
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: fn as unknown as tf.KernelFunc });
    added.add(name);
  }
  for (const [name, fn, flag] of OVERRIDES) {
    const want = opts[flag] ?? true;
    if (want && !stock.has(name)) {
      const original = tf.getKernel(name, 'wasm');
      stock.set(name, original);
      tf.unregisterKernel(name, 'wasm');
      // Keep the stock setupFunc: it binds the C++ entry point that the override may still call.
      tf.registerKernel({ ...original, kernelFunc: fn as unknown as tf.KernelFunc });
    } else if (!want && stock.has(name)) {
      tf.unregisterKernel(name, 'wasm');
      tf.registerKernel(stock.get(name)!);
      stock.delete(name);
    }
  }
  return registeredWasmKernels();
}
