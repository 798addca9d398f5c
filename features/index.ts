/**
 * Public API of features/ for trainers and the converter: read features (a store or a TSV) and check a detector
 * against the contract. Everything else in this folder is the machinery behind `vlkit extract` / `vlkit features`.
 */
export { openFeatureStore, convertTsvToStore, type FeatureStore, type OpenStoreOptions } from './store.js';
export { readFeatureTsv, FIELDNAMES, type FeatureRow, type ReadTsvOptions } from './tsv.js';
export { checkDetectorContract, DEFAULT_NAMES, type DetectorNames, type ContractReport } from './contract.js';
