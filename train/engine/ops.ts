/**
 * Small ops that route around gaps in tfjs-core's gradients, so model code never trips over them.
 *
 * tfjs-core's matMul gradient is wrong for a rank-3 × rank-2 broadcast product (the usual `[B, T, H] · [H, O]` of
 * a Dense layer over a sequence): it reduces the broadcast dimension incorrectly. `dense` flattens the leading
 * dimensions into rows first, so the product is plain 2-D (whose gradient is right) — and as one
 * `[B·T, H] · [H, O]` it is also the shape the wasm XNNPACK path handles fastest.
 */
import * as tf from '@tensorflow/tfjs';

/** x[..., in] · w[in, out] (+ b[out]) → [..., out]. */
export function dense(x: tf.Tensor, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor {
  const [inDim, outDim] = w.shape;
  const lead = x.shape.slice(0, -1);
  if (x.shape[x.shape.length - 1] !== inDim) {
    throw new Error(`dense: input's last dimension ${x.shape[x.shape.length - 1]} does not match weight [${w.shape}]`);
  }
  return tf.tidy(() => {
    let y: tf.Tensor = tf.matMul(x.reshape([-1, inDim]) as tf.Tensor2D, w);
    if (b) y = y.add(b);
    return y.reshape([...lead, outDim]);
  });
}
