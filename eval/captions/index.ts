/** COCO caption metrics (pycocoevalcap-compatible) as library functions. */
export { evaluateCaptions, evaluateCaptionFiles, alignCaptions } from './evaluate.js';
export type { CaptionMetrics, CaptionEvalResult, CaptionSet, PerImageScores, CaptionEvalOptions } from './evaluate.js';
export { bleu } from './bleu.js';
export { rougeL } from './rouge.js';
export { ciderD } from './cider.js';
export { ptbTokenizeLines, removePunctuation } from './ptb-tokenizer.js';
