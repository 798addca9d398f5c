/**
 * Run-time backend choice for training: tfjs-node-gpu → tfjs-node → wasm → cpu.
 *
 * The two native backends are optional peer dependencies (they download libtensorflow at install time, so they are
 * not installable everywhere); they are imported dynamically and skipped with the reason when absent or broken.
 * `--backend` / `train.backend` forces one; forcing one that cannot start is a UsageError, never a silent fallback.
 * On wasm the kernel fills and the BatchMatMul override (wasm-kernels.ts) are registered before training starts.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { UsageError, messageOf } from '../../common/errors.js';
import { registerWasmKernels, type WasmKernelOptions } from './wasm-kernels.js';

export const BACKENDS = ['node-gpu', 'node', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

export interface BackendChoice {
  name: BackendName;
  /** tfjs's own name for it ('tensorflow' for both native packages). */
  tfBackend: string;
  /** Faster backends that were tried and why they were not used. */
  skipped: Array<{ name: BackendName; reason: string }>;
  /** Kernels registered on top of the stock backend (wasm only). */
  kernels: string[];
  /** The one log line describing the choice. */
  line: string;
}

export interface SelectBackendOptions {
  /** 'auto' (default) or one backend name to force. */
  force?: string;
  /** Where the one log line goes (default: stderr). */
  log?: (line: string) => void;
  wasmKernels?: WasmKernelOptions;
}

const NATIVE_PACKAGE: Record<'node-gpu' | 'node', string> = {
  'node-gpu': '@tensorflow/tfjs-node-gpu',
  node: '@tensorflow/tfjs-node',
};

/** Folder holding the .wasm binaries inside the installed package, so nothing is fetched. */
export function wasmDistDir(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep;
}

let wasmPathsSet = false;

/** Try to make `name` the active backend; returns null on success or the reason it cannot run. */
async function tryBackend(name: BackendName): Promise<string | null> {
  if (name === 'node-gpu' || name === 'node') {
    const pkg = NATIVE_PACKAGE[name];
    try {
      // A variable specifier keeps TypeScript from requiring the optional package at compile time.
      await import(pkg);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return code === 'ERR_MODULE_NOT_FOUND' ? `${pkg} not installed` : `${pkg} failed to load: ${messageOf(err).split('\n')[0]}`;
    }
    // The package registers 'tensorflow' with the tfjs-core it imports; a second copy of tfjs-core would not see it.
    if (!tf.findBackendFactory('tensorflow')) return `${pkg} loaded but registered with another copy of @tensorflow/tfjs-core`;
    return (await tf.setBackend('tensorflow')) ? null : `${pkg}: backend 'tensorflow' failed to initialise`;
  }
  if (name === 'wasm') {
    if (!wasmPathsSet && !tf.engine().registry['wasm']) {
      setWasmPaths(wasmDistDir());
      wasmPathsSet = true;
    }
    try {
      return (await tf.setBackend('wasm')) ? null : 'wasm backend failed to initialise';
    } catch (err) {
      return `wasm backend failed to initialise: ${messageOf(err)}`;
    }
  }
  return (await tf.setBackend('cpu')) ? null : 'cpu backend failed to initialise';
}

/** Pick and activate the backend; logs exactly one line saying which runs and why faster ones were skipped. */
export async function selectBackend(opts: SelectBackendOptions = {}): Promise<BackendChoice> {
  const force = opts.force ?? 'auto';
  if (force !== 'auto' && !(BACKENDS as readonly string[]).includes(force)) {
    throw new UsageError(`--backend must be one of auto, ${BACKENDS.join(', ')} (got '${force}')`);
  }
  // tfjs's own banner ("install the node backend…") would contradict the one line below; PROD silences it.
  tf.env().set('PROD', true);
  const candidates: BackendName[] = force === 'auto' ? [...BACKENDS] : [force as BackendName];
  const skipped: BackendChoice['skipped'] = [];
  for (const name of candidates) {
    const reason = await tryBackend(name);
    if (reason !== null) {
      if (force !== 'auto') throw new UsageError(`--backend ${name} is not available: ${reason}`);
      skipped.push({ name, reason });
      continue;
    }
    const kernels = name === 'wasm' ? registerWasmKernels(opts.wasmKernels) : [];
    const why = force === 'auto' ? (skipped.length ? `skipped ${skipped.map((s) => `${s.name} (${s.reason})`).join(', ')}` : 'fastest available') : 'forced';
    const extra = kernels.length ? `; registered wasm kernels: ${kernels.join(', ')}` : '';
    const line = `backend: ${name} — ${why}${extra}`;
    (opts.log ?? ((l: string) => process.stderr.write(l + '\n')))(line);
    return { name, tfBackend: tf.getBackend(), skipped, kernels, line };
  }
  // cpu is always last and always available; reaching here means even it failed.
  throw new Error(`no TensorFlow.js backend could start: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
}

/**
 * The wasm backend's heap is a 32-bit wasm memory (about 4 GiB at most); when a model outgrows it, tfjs fails deep
 * inside wasm ("Aborted()", "memory access out of bounds") with a message that names neither the cause nor the fix.
 * Translate that into a usage error saying how much was allocated; any other error is returned unchanged.
 */
export function explainOutOfMemory(err: unknown): unknown {
  const msg = err instanceof Error ? err.message : String(err);
  if (tf.getBackend() !== 'wasm' || !/Aborted\(\)|memory access out of bounds|out of memory|cannot enlarge memory|allocation failed/i.test(msg)) return err;
  const held = tf.memory().numBytes / 2 ** 30;
  return new UsageError(
    `the wasm backend ran out of memory (${msg.split('\n')[0]}) with ${held.toFixed(2)} GiB of tensors allocated; its heap ` +
      'is capped near 4 GiB, and a model needs about 16 bytes per parameter (weights, gradients, two Adam moments) plus ' +
      'activations. Install @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu (chosen automatically when present), ' +
      'or reduce train.batch_size / the model size.',
  );
}
