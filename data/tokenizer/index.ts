/** BERT uncased WordPiece tokenization shared by the region-feature (LXMERT) and patch-based (ViLT) trainers. */
export { BertTokenizer, CLS_ID, MASK_ID, PAD_ID, SEP_ID, UNK_ID, type EncodeOptions, type Encoding } from './bert.js';
export { BERT_UNCASED_VOCAB_SHA256, readVocab, SHIPPED_VOCAB } from './vocab.js';
