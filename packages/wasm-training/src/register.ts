import * as tf from '@tensorflow/tfjs-core';
// The backend's own kernels must be registered before this module replaces some of them (a later
// registration of the same kernel would win), whatever order the application imports the two packages in.
import '@tensorflow/tfjs-backend-wasm';
import { batchMatMulConfig, fusedMatMulConfig } from './batch-matmul';
import { fusedBatchNormGradConfig } from './batch-norm-grad';
import { BATCH_NORM_TRAINING_KERNELS } from './batch-norm-training';
import { reluGradConfig } from './relu-grad';
import { conv2DBackpropFilter, conv2DBackpropInput } from './conv2d-backprop';
import { depthwiseConv2dNativeBackpropFilter, depthwiseConv2dNativeBackpropInput } from './depthwise-backprop';
import { castConfig, identityConfig } from './identity';
import { WASM } from './kernel-scope';
import { maxPoolGrad } from './max-pool-grad';
import { resizeBilinearGrad, resizeNearestNeighborGrad } from './resize-bilinear-grad';
import { SLICE_KERNELS } from './slice';
import { TRANSPOSE_SUM_KERNELS } from './transpose-sum';
import { installKernel, restoreStockKernel } from './stock-kernels';
import { unsortedSegmentSum } from './unsorted-segment-sum';

/**
 * The kernels this package registers for the `wasm` backend. The first four are missing from
 * `@tensorflow/tfjs-backend-wasm` 4.22; `Conv2DBackpropInput` replaces the backend's scalar loop
 * (≈ 30× slower than its XNNPACK convolution) by a convolution, and `ResizeBilinearGrad` the
 * backend's kernel, which ignores `halfPixelCenters` (wrong gradients for that mode);
 * `ResizeNearestNeighborGrad` and `MaxPoolGrad` replace kernels that give wrong gradients for some
 * batch/channel layouts (see the tests). `BatchMatMul` and `_FusedMatMul` wrap the backend's own
 * kernels so transposed and batch-against-matrix products reach XNNPACK (10–30× faster gradients of
 * dense layers and matMuls); they are registered only when the backend's kernels exist to wrap.
 * `Identity` and same-dtype `Cast` share their input's buffer instead of copying it (the engine clones
 * every tensor it saves for a gradient, so on stock wasm each of them was held twice in training).
 * `Slice`, `Unpack`, `SplitV` and `StridedSlice` copy only what they return (the stock kernels first copy
 * the whole input out of the wasm heap, per output). `Transpose`, `Sum` and `Mean` run the package's SIMD
 * kernels for matrix transposes and sums/means over leading axes (see `transpose-sum.ts`). The two fused
 * batch-norm training kernels (`PhalanxBatchNormTraining`, `PhalanxBatchNormTrainingGrad`) and the
 * moving-average update (`PhalanxMovingAverages`) are new kernel names, used by `@phalanx/layers`'
 * `batchNormTraining` and `updatedMovingAverages` where the backend has them.
 */
export const WASM_TRAINING_KERNELS: readonly tf.KernelConfig[] = [
  {
    kernelName: tf.Conv2DBackpropFilter,
    backendName: WASM,
    kernelFunc: conv2DBackpropFilter as unknown as tf.KernelFunc,
  },
  {
    kernelName: tf.Conv2DBackpropInput,
    backendName: WASM,
    kernelFunc: conv2DBackpropInput as unknown as tf.KernelFunc,
  },
  {
    kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
    backendName: WASM,
    kernelFunc: depthwiseConv2dNativeBackpropFilter as unknown as tf.KernelFunc,
  },
  {
    kernelName: tf.DepthwiseConv2dNativeBackpropInput,
    backendName: WASM,
    kernelFunc: depthwiseConv2dNativeBackpropInput as unknown as tf.KernelFunc,
  },
  { kernelName: tf.UnsortedSegmentSum, backendName: WASM, kernelFunc: unsortedSegmentSum as unknown as tf.KernelFunc },
  { kernelName: tf.ResizeBilinearGrad, backendName: WASM, kernelFunc: resizeBilinearGrad as unknown as tf.KernelFunc },
  {
    kernelName: tf.ResizeNearestNeighborGrad,
    backendName: WASM,
    kernelFunc: resizeNearestNeighborGrad as unknown as tf.KernelFunc,
  },
  { kernelName: tf.MaxPoolGrad, backendName: WASM, kernelFunc: maxPoolGrad as unknown as tf.KernelFunc },
  batchMatMulConfig,
  fusedMatMulConfig,
  identityConfig,
  castConfig,
  ...SLICE_KERNELS,
  ...TRANSPOSE_SUM_KERNELS,
  ...BATCH_NORM_TRAINING_KERNELS,
];

/** Kernels that call the backend's own kernel they replace: registered only once it exists. */
const WRAPPERS = new Set<string>([
  tf.BatchMatMul,
  tf._FusedMatMul,
  tf.Identity,
  tf.Cast,
  ...SLICE_KERNELS.map((k) => k.kernelName),
  ...TRANSPOSE_SUM_KERNELS.map((k) => k.kernelName),
]);

/**
 * Registers the training kernels of {@link WASM_TRAINING_KERNELS} for the `wasm` backend. Safe to
 * call any number of times, before or after the wasm backend is initialised; importing
 * `@phalanx/wasm-training` calls it once. A kernel someone else registered later under the same
 * name is replaced only if it is not already ours.
 *
 * @example
 * import * as tf from '@tensorflow/tfjs-core';
 * import '@tensorflow/tfjs-backend-wasm';
 * import { registerWasmTrainingKernels } from '@phalanx/wasm-training';
 * registerWasmTrainingKernels();
 * await tf.setBackend('wasm'); // conv models now train with model.fit
 */
export function registerWasmTrainingKernels(): void {
  for (const config of WASM_TRAINING_KERNELS) {
    // A wrapper of a kernel the backend has not registered yet waits: it would have nothing to wrap.
    if (tf.getKernel(config.kernelName, WASM) == null && WRAPPERS.has(config.kernelName)) continue;
    installKernel(config);
  }
}

/**
 * Removes this package's kernels from `wasm` and puts back the backend's own ones it replaced
 * (used by the benchmark to time the stock backend; training convolutions on wasm fails again).
 */
export function unregisterWasmTrainingKernels(): void {
  for (const config of WASM_TRAINING_KERNELS) restoreStockKernel(config);
}

/**
 * Gradients this package registers in tfjs's **global** gradient registry (they apply to every
 * backend — cpu, wasm, webgl — once the package is imported): `FusedBatchNorm` (see
 * {@link fusedBatchNormGradConfig}: the same values as tfjs-core's gradient within float32 rounding,
 * without its input-sized `Tile`s and without two input-sized tensors per batch-norm layer kept alive
 * for the whole backward pass) and `Relu` (see {@link reluGradConfig}: bitwise the stock values, from
 * the saved output instead of the input).
 */
export const WASM_TRAINING_GRADIENTS: readonly tf.GradConfig[] = [fusedBatchNormGradConfig, reluGradConfig];

const stockGradients = new Map<string, tf.GradConfig>();

/**
 * Registers {@link WASM_TRAINING_GRADIENTS} (global, all backends). Idempotent. Importing
 * `@tensorflow/tfjs-layers` registers tfjs's own gradients again, replacing these: importing this
 * package calls this function at once and again in a microtask, so any import order within one module
 * graph ends with these gradients; after importing tfjs-layers later (dynamically), call it again.
 */
export function registerWasmTrainingGradients(): void {
  for (const config of WASM_TRAINING_GRADIENTS) {
    const current = tf.getGradient(config.kernelName);
    if (current === config) continue;
    if (current != null) stockGradients.set(config.kernelName, current);
    tf.registerGradient(config);
  }
}

/** Puts back the gradients {@link registerWasmTrainingGradients} replaced (tfjs's own). */
export function unregisterWasmTrainingGradients(): void {
  for (const config of WASM_TRAINING_GRADIENTS) {
    if (tf.getGradient(config.kernelName) !== config) continue;
    const original = stockGradients.get(config.kernelName);
    if (original != null) tf.registerGradient(original);
  }
}

/** Names of the kernels currently provided by this package on `wasm`. */
export function wasmTrainingKernelNames(): string[] {
  return WASM_TRAINING_KERNELS.filter((k) => tf.getKernel(k.kernelName, WASM) === k).map((k) => k.kernelName);
}

registerWasmTrainingKernels();
registerWasmTrainingGradients();
queueMicrotask(registerWasmTrainingGradients);
