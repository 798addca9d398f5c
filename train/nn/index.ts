/**
 * Shared BERT-style layers for the trainers (LXMERT-style region models, ViLT-style patch models). Parameters live
 * in a `Params` under PyTorch state-dict names; Linear weights are stored [in, out] and transposed at the PyTorch
 * boundary (`Params.toTorch` / `fromTorch`). LayerNorm eps defaults to BERT's 1e-12, GELU is the erf form.
 */
export { Params, type TorchTensor } from './params.js';
export { dropout, gelu, Embedding, LayerNorm, Linear, EVAL, type Mode } from './layers.js';
export { additiveMask, AddNorm, AttentionBlock, MultiHeadAttention } from './attention.js';
export { BertEmbeddings, BertLayer, FeedForward, Pooler, type BertSizes, type EmbeddingSizes } from './bert.js';
