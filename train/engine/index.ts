/** The shared training engine: import trainers' building blocks from here. */
export { BACKENDS, selectBackend, wasmDistDir, type BackendChoice, type BackendName, type SelectBackendOptions } from './backend.js';
export { registerWasmKernels, registeredWasmKernels, type WasmKernelOptions } from './wasm-kernels.js';
export { dense } from './ops.js';
export { Optimizer, OPTIMIZER_KINDS, clipByGlobalNorm, isNoDecay, lrFactor, type OptimizerConfig, type OptimizerKind, type OptimizerState } from './optimizer.js';
export { Rng, epochPermutation, type RngState } from './rng.js';
export { EventWriter, crc32c, maskedCrc32c, encodeRecord, readRecords, encodeEvent, decodeEvent, readEventFile, eventFiles, truncateEvents, type TbEvent } from './tensorboard.js';
export { saveCheckpoint, loadCheckpoint, encodeSafetensors, decodeSafetensors, checkpointName, type Checkpoint, type CheckpointState, type TensorData } from './checkpoint.js';
export { SerializationDir, type LogRecord, type Pointer } from './serialization.js';
export {
  train,
  trainConfigFrom,
  TRAIN_DEFAULTS,
  type BatchSource,
  type StepContext,
  type TrainableModel,
  type TrainConfig,
  type TrainOptions,
  type TrainResult,
} from './loop.js';
