/**
 * ONNX Runtime session with execution-provider selection. `auto` tries CUDA, then WebGPU, then the CPU, and says
 * in one log line which one runs and why the others did not: onnxruntime-node does not fall back by itself
 * (WebGPU throws when the machine has no adapter, CUDA throws "Failed to load shared library" when the CUDA
 * provider binaries were not installed; see features/README.md).
 */
import type { InferenceSession } from 'onnxruntime-node';
import ort from 'onnxruntime-node';
import { UsageError } from '../common/errors.js';

export const EXECUTION_PROVIDERS = ['auto', 'cuda', 'webgpu', 'cpu'] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

export interface OpenedSession {
  session: InferenceSession;
  /** The provider that runs ('cuda' | 'webgpu' | 'cpu'). */
  provider: string;
  /** The log line describing the choice. */
  message: string;
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 200);
}

export async function openSession(modelPath: string, ep: ExecutionProvider): Promise<OpenedSession> {
  const order = ep === 'auto' ? (['cuda', 'webgpu', 'cpu'] as const) : [ep];
  const failures: string[] = [];
  for (const provider of order) {
    try {
      const session = await ort.InferenceSession.create(modelPath, {
        executionProviders: [provider],
        graphOptimizationLevel: 'all',
      });
      const why = failures.length > 0 ? ` (${failures.join('; ')})` : '';
      return { session, provider, message: `execution provider: ${provider}${ep === 'auto' ? ' [auto]' : ''}${why}` };
    } catch (err) {
      const msg = firstLine(err);
      // A model that cannot load at all is not a provider problem: report it as it is.
      if (/protobuf|ModelProto|No such file|Load model/i.test(msg) && !/shared library/i.test(msg)) {
        throw new UsageError(`cannot load ${modelPath}: ${msg}`);
      }
      failures.push(`${provider} unavailable: ${msg}`);
    }
  }
  throw new UsageError(`--ep ${ep}: ${failures.join('; ')}`);
}
