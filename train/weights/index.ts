/** PyTorch (.pth/.pt/.bin/.ckpt, zip and legacy formats) and safetensors checkpoints, read and written in TypeScript. */
export { PickleError, PyGlobal, PyObject, unpickle } from './pickle.js';
export { findStateDict, loadTorch, PthTensor, readStateDict, stripPrefix, UnsupportedTensor, type LoadOptions } from './pth-read.js';
export { savePth } from './pth-write.js';
export { readSafetensors, saveSafetensors, type SafetensorsFile } from './safetensors.js';
export { floatToBfloat16, floatToHalf, halfToFloat, numel, toFloat32, type DType, type StoredTensor, type Tensor, type TensorData } from './tensor.js';
