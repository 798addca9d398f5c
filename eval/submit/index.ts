/** Leaderboard submission writers (validated before writing); the trainers' `predict` uses the same functions. */
export * from './problems.js';
export * from './vqa.js';
export * from './gqa.js';
export * from './nlvr2.js';
export * from './vcr.js';
export * from './captions.js';
