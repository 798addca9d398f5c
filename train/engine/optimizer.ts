/**
 * AdamW with decoupled weight decay, LXMERT's BertAdam variant, the BERT learning-rate schedule, and clipping.
 *
 * Semantics (checked against the reference implementations; `t` = update number from 1, `lr_t` = scheduled lr):
 *
 * - `adamw` (HuggingFace transformers AdamW, correct_bias=True):
 *     m ← β1·m + (1-β1)·g;  v ← β2·v + (1-β2)·g²
 *     p ← p − lr_t·√(1-β2^t)/(1-β1^t) · m / (√v + ε)        (ε added to the *uncorrected* √v, as HF does)
 *     p ← p − lr_t·wd·p                                       (decay AFTER the Adam step, on the updated p)
 * - `bertadam` (LXMERT src/lxrt/optimization.py BertAdam — no bias correction):
 *     m, v as above;  u = m / (√v + ε) + wd·p                  (decay folded in BEFORE the step, on the old p)
 *     p ← p − lr_t·u
 *   LXMERT's BertAdam does not clip inside the optimizer (the original pytorch-pretrained-bert per-parameter
 *   clip is commented out there: "grad is clipped outside"); its trainers clip the global norm to 5.0 before the
 *   step. Here clipping is always the loop's global-norm clip (`train.max_grad_norm`), for both kinds.
 * - Schedule: lr_t = lr · f(s) where s is the number of updates already applied (0 for the first update), warm-up
 *   w = warmup·total: f(s) = s/w for s < w, else max(0, (total−s)/(total−w)). This is both HF's
 *   get_linear_schedule_with_warmup (scheduler stepped after the optimizer) and LXMERT's warmup_linear(s/total);
 *   as in both, the very first update has lr 0 when warm-up is on.
 * - No weight decay on biases and normalisation parameters, decided by the PyTorch-style parameter name (see
 *   `isNoDecay`), the same exemption list BERT/LXMERT/ViLT use.
 * - Gradient clipping by global norm exactly as torch.nn.utils.clip_grad_norm_: g ← g·min(1, max/(‖g‖+1e-6)).
 * - Optional, for fine-tuning recipes such as MAE/VLC's ImageNet one: `schedule: 'cosine'` (after the same linear
 *   warm-up, lr_t = minLr + (lr − minLr)·½(1 + cos(π·(s−w)/(total−w))), MAE's per-iteration half-cycle cosine);
 *   `lrScale` multiplies one parameter's lr_t (layer-wise lr decay; both the Adam step and the decoupled decay
 *   use the scaled lr, as a PyTorch param group with its own lr would); `noDecay` exempts more names from decay.
 */
import * as tf from '@tensorflow/tfjs';

export type OptimizerKind = 'adamw' | 'bertadam';
export const OPTIMIZER_KINDS: readonly OptimizerKind[] = ['adamw', 'bertadam'];

export interface OptimizerConfig {
  kind: OptimizerKind;
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Total number of updates of the run (for the schedule). */
  totalSteps: number;
  /** Warm-up as a fraction of totalSteps (0.1 for fine-tuning as BERT/LXMERT). 0 = none. */
  warmup: number;
  /** Decay after the warm-up: 'linear' to 0 (default) or half-cycle 'cosine' to minLr. */
  schedule?: 'linear' | 'cosine';
  /** Floor of the cosine schedule (absolute lr). */
  minLr?: number;
  /** Per-parameter multiplier of the scheduled lr (layer-wise lr decay); names not listed use 1. */
  lrScale?: Readonly<Record<string, number>>;
  /** Parameters exempt from weight decay in addition to the `isNoDecay` names (e.g. ViT's pos_embed, cls_token). */
  noDecay?: ReadonlySet<string>;
}

/**
 * Exempt from weight decay: the last name segment is `bias`, or the parameter belongs to a normalisation layer —
 * the segment before the last is LayerNorm / layer_norm / norm / norm1 / norm2 / ln / ln_1 … (BERT's
 * `…LayerNorm.weight`, ViLT/timm's `blocks.0.norm1.weight`, GPT-style `ln_f.weight`). Names are dotted, PyTorch
 * style, which models use anyway so published weights map by name.
 */
export function isNoDecay(name: string): boolean {
  const parts = name.split('.');
  const last = parts[parts.length - 1]!;
  if (last === 'bias') return true;
  const owner = parts.length > 1 ? parts[parts.length - 2]! : '';
  return /^(layernorm|layer_norm|norm\d*|ln(_\w+|\d+)?)$/i.test(owner);
}

/** Linear warm-up then linear decay to 0 (see the header for the exact formula). */
export function lrFactor(step: number, totalSteps: number, warmup: number): number {
  const w = warmup * totalSteps;
  if (step < w) return step / w;
  if (totalSteps <= w) return 0;
  return Math.max(0, (totalSteps - step) / (totalSteps - w));
}

export interface OptimizerState {
  kind: OptimizerKind;
  /** Updates applied so far. */
  step: number;
  m: Record<string, Float32Array>;
  v: Record<string, Float32Array>;
}

export class Optimizer {
  /** Updates applied so far (also the schedule position). */
  step = 0;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();

  constructor(readonly cfg: OptimizerConfig) {
    if (!OPTIMIZER_KINDS.includes(cfg.kind)) throw new Error(`optimizer must be one of ${OPTIMIZER_KINDS.join(', ')} (got '${cfg.kind}')`);
  }

  /** The learning rate the next update will use. */
  currentLr(): number {
    const { lr, totalSteps, warmup, schedule = 'linear', minLr = 0 } = this.cfg;
    if (schedule === 'linear') return lr * lrFactor(this.step, totalSteps, warmup);
    const w = warmup * totalSteps;
    if (this.step < w) return (lr * this.step) / w;
    if (totalSteps <= w) return minLr;
    return minLr + (lr - minLr) * 0.5 * (1 + Math.cos((Math.PI * (this.step - w)) / (totalSteps - w)));
  }

  private slot(map: Map<string, tf.Variable>, name: string, like: tf.Variable): tf.Variable {
    let s = map.get(name);
    if (!s) {
      s = tf.variable(tf.zerosLike(like), false);
      map.set(name, s);
    }
    return s;
  }

  /** Apply one update to `params` with `grads` (same names). Returns the lr used. */
  apply(params: Record<string, tf.Variable>, grads: Record<string, tf.Tensor>): number {
    const { kind, beta1: b1, beta2: b2, eps, weightDecay: wd } = this.cfg;
    const lr = this.currentLr();
    const t = this.step + 1;
    // Per-update scalars in float64, then one float32 tensor each (as PyTorch passes Python floats).
    const stepSize = kind === 'adamw' ? (lr * Math.sqrt(1 - b2 ** t)) / (1 - b1 ** t) : lr;
    tf.tidy(() => {
      const sB1 = tf.scalar(b1);
      const s1B1 = tf.scalar(1 - b1);
      const sB2 = tf.scalar(b2);
      const s1B2 = tf.scalar(1 - b2);
      const sEps = tf.scalar(eps);
      const sStep = tf.scalar(stepSize);
      const sDecayAdamW = tf.scalar(1 - lr * wd);
      const sWd = tf.scalar(wd);
      // Scalars for parameters whose lr is scaled (layer-wise decay), one pair per distinct scale.
      const scaled = new Map<number, { step: tf.Scalar; decayAdamW: tf.Scalar }>();
      const scalarsFor = (scale: number) => {
        if (scale === 1) return { step: sStep, decayAdamW: sDecayAdamW };
        let s = scaled.get(scale);
        if (!s) scaled.set(scale, (s = { step: tf.scalar(stepSize * scale), decayAdamW: tf.scalar(1 - lr * scale * wd) }));
        return s;
      };
      // Made here, in the outer scope: the per-parameter scopes below would dispose them after first use.
      for (const scale of new Set(Object.values(this.cfg.lrScale ?? {}))) scalarsFor(scale);
      for (const [name, p] of Object.entries(params)) {
        const g = grads[name];
        if (!g) continue;
        // One scope per parameter: the outer tidy alone held every parameter's temporaries (~10 tensors of its
        // size) until the last one was updated — 10x the model in memory at once, past the wasm heap for ViT-B/32.
        tf.tidy(() => {
          const m = this.slot(this.m, name, p);
          const v = this.slot(this.v, name, p);
          // Inner scopes free each expression's temporaries as soon as its result exists: at most ~4 tensors of
          // this parameter's size live at once (the 30522-row word embedding of a ViT-B/32 model is 94 MB each).
          m.assign(tf.tidy(() => m.mul(sB1).add(g.mul(s1B1))));
          v.assign(tf.tidy(() => v.mul(sB2).add(g.square().mul(s1B2))));
          const decay = wd > 0 && !isNoDecay(name) && !this.cfg.noDecay?.has(name);
          const s = scalarsFor(this.cfg.lrScale?.[name] ?? 1);
          let update: tf.Tensor = tf.tidy(() => m.div(v.sqrt().add(sEps)));
          if (kind === 'adamw') {
            p.assign(tf.tidy(() => {
              const pNew = p.sub(update.mul(s.step));
              return decay ? pNew.mul(s.decayAdamW) : pNew;
            }));
          } else {
            if (decay) update = tf.tidy(() => update.add(p.mul(sWd)));
            p.assign(tf.tidy(() => p.sub(update.mul(s.step))));
          }
        });
      }
    });
    this.step = t;
    return lr;
  }

  getState(): OptimizerState {
    const read = (map: Map<string, tf.Variable>) =>
      Object.fromEntries([...map].map(([k, t]) => [k, t.dataSync() as Float32Array]));
    return { kind: this.cfg.kind, step: this.step, m: read(this.m), v: read(this.v) };
  }

  /** Restore slots and step; `params` gives the shapes. */
  setState(state: OptimizerState, params: Record<string, tf.Variable>): void {
    if (state.kind !== this.cfg.kind) throw new Error(`optimizer state is for '${state.kind}', the run uses '${this.cfg.kind}'`);
    this.dispose();
    for (const [map, src] of [[this.m, state.m], [this.v, state.v]] as const) {
      for (const [name, values] of Object.entries(src)) {
        const p = params[name];
        if (!p) throw new Error(`optimizer state has a slot for unknown parameter '${name}'`);
        if (values.length !== p.size) throw new Error(`optimizer slot '${name}' has ${values.length} values, parameter has ${p.size}`);
        map.set(name, tf.variable(tf.tensor(values, p.shape, 'float32'), false));
      }
    }
    this.step = state.step;
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}

/**
 * torch.nn.utils.clip_grad_norm_ semantics: scale all gradients by min(1, maxNorm / (‖g‖₂ + 1e-6)).
 * Returns new gradient tensors and the pre-clip global norm (a scalar tensor; read it only when logging).
 * maxNorm ≤ 0 disables clipping (the norm is still computed).
 */
export function clipByGlobalNorm(grads: Record<string, tf.Tensor>, maxNorm: number): { grads: Record<string, tf.Tensor>; norm: tf.Scalar } {
  return tf.tidy(() => {
    const sq = Object.values(grads).map((g) => g.square().sum());
    const norm = (sq.length ? tf.addN(sq) : tf.scalar(0)).sqrt() as tf.Scalar;
    if (!(maxNorm > 0)) return { grads: Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, g.clone()])), norm };
    const coef = tf.minimum(tf.scalar(1), tf.scalar(maxNorm).div(norm.add(tf.scalar(1e-6))));
    return { grads: Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, g.mul(coef)])), norm };
  });
}
