/**
 * Child process of `src/stock-kernels.test.ts`: `node --import tsx test/unregister-child.ts`. On `cpu`, with
 * `wasm` registered but never started, unregisters this package's kernels; the cpu backend must stay usable
 * (no pending start of `wasm`), and `wasm`, started afterwards, must run its own kernels. Prints one JSON line.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { unregisterWasmTrainingKernels } from '../src/index';

const a = () =>
  tf.tensor3d(
    Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => Math.sin(i)),
    [2, 3, 4],
  );
const b = () =>
  tf.tensor3d(
    Float32Array.from({ length: 2 * 4 * 5 }, (_, i) => Math.cos(i)),
    [2, 4, 5],
  );
const product = async () => {
  const y = tf.tidy(() => tf.matMul(a(), b()));
  const values = Array.from(await y.data());
  y.dispose();
  return values;
};

await tf.setBackend('cpu');
unregisterWasmTrainingKernels();
const engine = tf.engine() as unknown as { pendingBackendInit?: unknown; registry: Record<string, unknown> };
const wasmStartedByUnregister = engine.pendingBackendInit != null || 'wasm' in engine.registry;
const onCpu = await product();
await tf.setBackend('wasm');
const onWasm = await product();
const stockMatMul = tf.getKernel(tf.BatchMatMul, 'wasm')?.kernelFunc.name ?? null;
console.log(JSON.stringify({ wasmStartedByUnregister, backend: tf.getBackend(), onCpu, onWasm, stockMatMul }));
