/**
 * PyTorch weights in and out of an LxmertModel, by parameter name.
 *
 * Accepted sources: LXMERT's fine-tuned `BEST.pth` / `LAST.pth` (`lxrt_encoder.model.bert.…`, `logit_fc.…`),
 * its pretrained `model_LXRT.pth` (`module.bert.…` plus pretraining heads, which are ignored), and BERT-base state
 * dicts (`bert.…`, old files with LayerNorm `gamma`/`beta`). `module.` (DataParallel, wherever it sits) is dropped and `bert.…`
 * is placed under the encoder, which is what LXMERT's own loaders do. Linear weights are transposed between
 * PyTorch's [out, in] and our [in, out] by `Params`.
 */
import { InputError } from '../../common/errors.js';
import { readStateDict, savePth, toFloat32, type Tensor } from '../weights/index.js';
import type { Params } from '../nn/index.js';
import { ENCODER_PREFIX, type LxmertModel } from './model.js';

export interface LoadReport {
  loaded: number;
  /** Model parameters the file did not provide (they keep their initialisation). */
  missing: string[];
  /** File entries the model has no parameter for (pretraining heads, BERT layers beyond l_layers, …). */
  unexpected: string[];
}

/** The model-side name of a state-dict key. */
export function modelName(key: string): string {
  // DataParallel's `module.` may sit at the front (pretraining) or inside (`lxrt_encoder.model.module.bert` when
  // LXMERT fine-tunes with --multiGPU).
  let k = key.replace(/(^|\.)module\./g, '$1');
  k = k.replace(/\.gamma$/, '.weight').replace(/\.beta$/, '.bias');
  if (k.startsWith('bert.')) k = `lxrt_encoder.model.${k}`;
  return k;
}

/**
 * Load `file` into `model`. `require`: 'all' (a fine-tuned model of this task), 'encoder' (pretrained LXMERT or
 * BERT: every encoder parameter the file has must fit; the head stays initialised).
 */
export function loadPth(model: LxmertModel, file: string, require: 'all' | 'encoder'): LoadReport {
  const dict = readStateDict(file);
  const params = model.params;
  const report: LoadReport = { loaded: 0, missing: [], unexpected: [] };
  const seen = new Set<string>();
  for (const [key, t] of dict) {
    const name = modelName(key);
    if (!(name in params.vars)) {
      report.unexpected.push(key);
      continue;
    }
    const f = toFloat32(t);
    if (!(f.data instanceof Float32Array)) throw new Error(`${file}: '${key}' has dtype ${t.dtype}; expected a floating-point tensor`);
    params.fromTorch(name, { shape: f.shape, data: f.data }, file);
    seen.add(name);
    report.loaded++;
  }
  report.missing = Object.keys(params.vars).filter((n) => !seen.has(n));
  const mustHave = require === 'all' ? report.missing : report.missing.filter((n) => n.startsWith(`${ENCODER_PREFIX}.embeddings`));
  if (report.loaded === 0) throw new Error(`${file}: no entry matches a parameter of the model (first keys: ${[...dict.keys()].slice(0, 5).join(', ')})`);
  if (mustHave.length > 0) {
    throw new Error(`${file}: lacks ${mustHave.length} parameter(s) of the model, e.g. ${mustHave.slice(0, 5).join(', ')}`);
  }
  return report;
}

/**
 * BERT weights (a `bert-base-uncased` pytorch_model.bin of BertForPreTraining, or a bare BertModel's state dict) into
 * an LXMERT-shaped model by parameter name — what LXMERT's `from_pretrained("bert-base-uncased")` does unless
 * `--fromScratch` is given: `bert.embeddings.*`, `bert.encoder.layer.N.*` for N < l_layers (BERT's deeper layers are
 * unused), `bert.pooler.*` and, where the model has them (pretraining), `cls.predictions.transform.*`,
 * `cls.predictions.bias` and `cls.seq_relationship.*` (BERT's next-sentence head starts the image–text matching
 * head). The object and cross-modality layers, the visual input layers and the object/answer heads are not in BERT
 * and keep their BERT-style initialisation. `cls.predictions.decoder.weight` is the word-embedding matrix (tied in
 * BERT and here), so it is not loaded a second time. `bertPrefix`: where the model keeps `bert.` ('bert' for
 * pretraining, ENCODER_PREFIX for fine-tuning).
 */
export function loadBert(params: Params, file: string, bertPrefix: string): LoadReport {
  let dict: ReturnType<typeof readStateDict>;
  try {
    dict = readStateDict(file);
  } catch (err) {
    throw new InputError(file, (err as Error).message.replace(`${file}: `, ''));
  }
  const keys = [...dict.keys()];
  const norm = (key: string) => {
    const k = key.replace(/(^|\.)module\./g, '$1').replace(/\.gamma$/, '.weight').replace(/\.beta$/, '.bias');
    return /^(embeddings|encoder|pooler)\./.test(k) ? `bert.${k}` : k;
  };
  if (!keys.some((k) => norm(k) === 'bert.embeddings.word_embeddings.weight')) {
    throw new InputError(file, `not a BERT state dict: no 'bert.embeddings.word_embeddings.weight' (first keys: ${keys.slice(0, 5).join(', ')})`);
  }
  const report: LoadReport = { loaded: 0, missing: [], unexpected: [] };
  const seen = new Set<string>();
  for (const [key, t] of dict) {
    const k = norm(key);
    const name = k.startsWith('bert.') ? `${bertPrefix}${k.slice('bert'.length)}` : k;
    const v = params.vars[name];
    if (k === 'cls.predictions.decoder.weight' || !v) {
      report.unexpected.push(key);
      continue;
    }
    const want = params.transposed.has(name) ? [v.shape[1]!, v.shape[0]!] : v.shape;
    if (t.shape.join(',') !== want.join(',')) throw new InputError(file, `'${key}' has shape [${t.shape}], the model's '${name}' is [${want}] (check model.hidden/intermediate/vocab/max_positions)`);
    const f = toFloat32(t);
    if (!(f.data instanceof Float32Array)) throw new InputError(file, `'${key}' has dtype ${t.dtype}; expected a floating-point tensor`);
    params.fromTorch(name, { shape: f.shape, data: f.data }, file);
    seen.add(name);
    report.loaded++;
  }
  report.missing = Object.keys(params.vars).filter((n) => !seen.has(n));
  return report;
}

/**
 * Write the model as a PyTorch state dict under its LXMERT names (loads with `model.load_state_dict`); `tied` adds
 * entries that share another parameter's values (the pretraining LM decoder is the word embedding matrix).
 */
export async function savePthFrom(model: { params: Params }, file: string, tied: Record<string, string> = {}): Promise<void> {
  const out = new Map<string, Tensor>();
  for (const name of Object.keys(model.params.vars)) {
    const t = model.params.toTorch(name);
    out.set(name, { dtype: 'float32', shape: t.shape, data: t.data });
  }
  for (const [name, source] of Object.entries(tied)) out.set(name, out.get(source)!);
  await savePth(file, out);
}
