import * as tf from '@tensorflow/tfjs-core';
import { PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { input, WASM } from './kernel-scope';
import { pointer, simdKernels, type SimdKernels } from './simd';

/**
 * Name of the fused batch-norm training **forward** kernel this package registers for `wasm` — the
 * kernel `batchNormTraining` of `@phalanx/layers` runs when the active backend has it (the name and
 * contract are the ones that package documents; without the kernel it composes `tf.moments` and
 * `tf.batchNorm`).
 *
 * Inputs `x` `[…, C]`, `gamma` `[C]`, `beta` `[C]` (float32); attribute `epsilon`. Outputs, with the
 * statistics over every axis but the last (N = x.size / C values per channel):
 * `y = (x − μ)·γ·(σ² + ε)^−½ + β` like x, `μ = Σx / N` `[C]`, `σ² = Σ(x − μ)² / N` `[C]` (biased). With
 * no rows (N = 0) μ and σ² are 0, as tfjs's cpu `tf.moments` gives.
 *
 * @example
 * import * as tf from '@tensorflow/tfjs-core';
 * import { BATCH_NORM_TRAINING_KERNEL } from '@phalanx/wasm-training';
 * await tf.setBackend('wasm');
 * const x = tf.randomNormal([2, 4, 4, 8]);
 * const [y, mean, variance] = tf.engine().runKernel(
 *   BATCH_NORM_TRAINING_KERNEL,
 *   { x, gamma: tf.ones([8]), beta: tf.zeros([8]) },
 *   { epsilon: 1e-5 },
 * ) as tf.Tensor[];
 */
export const BATCH_NORM_TRAINING_KERNEL = 'PhalanxBatchNormTraining';

/**
 * Name of the fused batch-norm training **backward** kernel this package registers for `wasm` (the
 * gradient `batchNormTraining` of `@phalanx/layers` runs when the backend has it).
 *
 * Inputs `dy` and `x` `[…, C]`, the forward's `mean` and `variance` `[C]`, `gamma` `[C]`; attribute
 * `epsilon`. With r = (σ² + ε)^−½, x̂ = (x − μ)·r, N = x.size / C, outputs
 * `dx = γ·r·(dy − Σdy/N − x̂·Σ(dy·x̂)/N)` like x, `dγ = Σ dy·x̂` `[C]`, `dβ = Σ dy` `[C]` (sums over every
 * axis but the last; 0 when x has no rows).
 *
 * @example
 * import * as tf from '@tensorflow/tfjs-core';
 * import { BATCH_NORM_TRAINING_GRAD_KERNEL } from '@phalanx/wasm-training';
 * await tf.setBackend('wasm');
 * const x = tf.randomNormal([2, 4, 4, 8]);
 * const dy = tf.randomNormal([2, 4, 4, 8]);
 * const { mean, variance } = tf.moments(x, [0, 1, 2]);
 * const [dx, dGamma, dBeta] = tf.engine().runKernel(
 *   BATCH_NORM_TRAINING_GRAD_KERNEL,
 *   { dy, x, mean, variance, gamma: tf.ones([8]) },
 *   { epsilon: 1e-5 },
 * ) as tf.Tensor[];
 */
export const BATCH_NORM_TRAINING_GRAD_KERNEL = 'PhalanxBatchNormTrainingGrad';

/**
 * Name of the fused moving-average kernel this package registers for `wasm` (the kernel
 * `updatedMovingAverages` of `@phalanx/layers` runs when the active backend has it; without it, six tfjs ops).
 *
 * Inputs `movingMean`, `movingVariance`, `mean`, `variance` (float32, all `[C]`); attribute `decay`.
 * Outputs `m′ = m − (m − μ)·decay` and `v′ = v − (v − σ²)·decay` (`[C]` each), every operation rounded to
 * float32 in that order: bitwise the `Sub`, `Multiply`, `Sub` kernels tfjs-layers runs for them.
 *
 * @example
 * import * as tf from '@tensorflow/tfjs-core';
 * import { MOVING_AVERAGES_KERNEL } from '@phalanx/wasm-training';
 * await tf.setBackend('wasm');
 * const [m, v] = tf.engine().runKernel(
 *   MOVING_AVERAGES_KERNEL,
 *   { movingMean: tf.zeros([8]), movingVariance: tf.ones([8]), mean: tf.fill([8], 2), variance: tf.fill([8], 3) },
 *   { decay: 0.1 },
 * ) as tf.Tensor[];
 */
export const MOVING_AVERAGES_KERNEL = 'PhalanxMovingAverages';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.NamedAttrMap };

/** The parts of tfjs-backend-wasm 4.22's `BackendWasm` these kernels use. */
interface HeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
  disposeData(dataId: tf.DataId): boolean;
}

/**
 * The `epsilon` attribute (default 1e-3), or a `PhalanxConfigError` when it is not a finite number ≥ 0:
 * `Number('x')` made every output NaN.
 */
function epsilonOf(kernel: string, attrs: tf.NamedAttrMap): number {
  const epsilon = (attrs as { epsilon?: unknown }).epsilon ?? 1e-3;
  if (typeof epsilon !== 'number' || !Number.isFinite(epsilon) || epsilon < 0) {
    throw new PhalanxConfigError(kernel, 'epsilon', 'a finite number ≥ 0', epsilon);
  }
  return epsilon;
}

/** rows × channels of `x` after checking that every tensor is float32 and every `[C]` one matches. */
function geometry(kernel: string, x: tf.TensorInfo, channelTensors: Record<string, tf.TensorInfo>): [number, number] {
  const channels = x.shape.length === 0 ? 0 : x.shape[x.shape.length - 1];
  for (const [name, t] of Object.entries({ x, ...channelTensors })) {
    if (t.dtype !== 'float32') throw new PhalanxShapeError(kernel, name, 'float32', t.dtype);
    if (t !== x && (t.shape.length !== 1 || t.shape[0] !== channels)) {
      throw new PhalanxShapeError(kernel, name, `of shape [${channels}]`, t.shape);
    }
  }
  if (channels === 0) throw new PhalanxShapeError(kernel, 'x', 'of shape […, C] with C ≥ 1', x.shape);
  return [tf.util.sizeFromShape(x.shape) / channels, channels];
}

/** The forward of {@link BATCH_NORM_TRAINING_KERNEL} in plain JavaScript on heap views (no SIMD here). */
function forwardOnHeap(heap: HeapBackend, infos: tf.TensorInfo[], rows: number, cols: number, eps: number): void {
  const [x, gamma, beta, y, mean, variance] = infos.map((info) => heap.typedArrayFromHeap(info));
  const scale = new Float32Array(cols);
  mean.fill(0);
  for (let i = 0; i < rows * cols; i++) mean[i % cols] += x[i];
  for (let c = 0; c < cols; c++) mean[c] /= rows;
  variance.fill(0);
  for (let i = 0; i < rows * cols; i++) variance[i % cols] += (x[i] - mean[i % cols]) ** 2;
  for (let c = 0; c < cols; c++) {
    variance[c] /= rows;
    scale[c] = gamma[c] / Math.sqrt(variance[c] + eps);
  }
  for (let i = 0; i < rows * cols; i++) y[i] = (x[i] - mean[i % cols]) * scale[i % cols] + beta[i % cols];
}

/** The backward of {@link BATCH_NORM_TRAINING_GRAD_KERNEL} in plain JavaScript on heap views (no SIMD here). */
function backwardOnHeap(heap: HeapBackend, infos: tf.TensorInfo[], rows: number, cols: number, eps: number): void {
  const [dy, x, mean, variance, gamma, dx, dGamma, dBeta] = infos.map((info) => heap.typedArrayFromHeap(info));
  const slope = new Float32Array(cols);
  const shift = new Float32Array(cols);
  const factor = new Float32Array(cols);
  dBeta.fill(0);
  for (let i = 0; i < rows * cols; i++) {
    dBeta[i % cols] += dy[i];
    slope[i % cols] += dy[i] * (x[i] - mean[i % cols]);
  }
  for (let c = 0; c < cols; c++) {
    const rstd = 1 / Math.sqrt(variance[c] + eps);
    dGamma[c] = slope[c] * rstd;
    shift[c] = dBeta[c] / rows;
    slope[c] = (rstd * rstd * slope[c]) / rows;
    factor[c] = gamma[c] * rstd;
  }
  for (let i = 0; i < rows * cols; i++) {
    const c = i % cols;
    dx[i] = (dy[i] - shift[c] - (x[i] - mean[c]) * slope[c]) * factor[c];
  }
}

/**
 * `outputs` filled with zeros, for a batch of no rows: the statistics are cpu's (`tf.moments` of an empty
 * batch gives 0 and 0) and the weight gradients are empty sums. Without it they held whatever the memory did.
 */
function zeroed(heap: HeapBackend, outputs: tf.TensorInfo[]): tf.TensorInfo[] {
  for (const info of outputs) heap.typedArrayFromHeap(info).fill(0);
  return outputs;
}

/** A scratch buffer of `size` floats in the backend's memory, for `use`, freed afterwards. */
function withScratch(backend: tf.KernelBackend, size: number, use: (at: number) => void): void {
  const heap = backend as unknown as HeapBackend;
  const scratch = heap.makeOutput([size], 'float32');
  try {
    use(pointer(backend, scratch));
  } finally {
    heap.disposeData(scratch.dataId);
  }
}

/**
 * {@link BATCH_NORM_TRAINING_KERNEL} on wasm: the statistics and the output in one SIMD kernel (three
 * streaming passes over x: Σx, Σ(x − μ)², y), in place in the backend's memory; plain JavaScript on heap
 * views where the SIMD kernels cannot run.
 */
export function batchNormTrainingForward(args: KernelArgs): tf.TensorInfo[] {
  const x = input(args.inputs, 'x');
  const gamma = input(args.inputs, 'gamma');
  const beta = input(args.inputs, 'beta');
  const epsilon = epsilonOf(BATCH_NORM_TRAINING_KERNEL, args.attrs);
  const [rows, cols] = geometry(BATCH_NORM_TRAINING_KERNEL, x, { gamma, beta });
  const heap = args.backend as unknown as HeapBackend;
  // The small outputs first: they live until the backward pass, and allocated after y they would sit
  // between input-sized blocks that are freed much earlier (a fragmented, larger wasm heap).
  const mean = heap.makeOutput([cols], 'float32');
  const variance = heap.makeOutput([cols], 'float32');
  const y = heap.makeOutput(x.shape, 'float32');
  const simd: SimdKernels | null = simdKernels(args.backend);
  if (rows === 0) return zeroed(heap, [y, mean, variance]);
  if (simd == null) {
    forwardOnHeap(heap, [x, gamma, beta, y, mean, variance], rows, cols, epsilon);
    return [y, mean, variance];
  }
  const at = (info: tf.TensorInfo) => pointer(args.backend, info);
  withScratch(args.backend, cols, (scale) =>
    simd.batchNormForward(at(x), rows, cols, at(gamma), at(beta), epsilon, at(mean), at(variance), scale, at(y)),
  );
  return [y, mean, variance];
}

/**
 * {@link BATCH_NORM_TRAINING_GRAD_KERNEL} on wasm: Σdy and Σdy·(x − μ) in one streaming pass, dx in a
 * second, in one SIMD kernel; plain JavaScript on heap views where the SIMD kernels cannot run.
 */
export function batchNormTrainingBackward(args: KernelArgs): tf.TensorInfo[] {
  const dy = input(args.inputs, 'dy');
  const x = input(args.inputs, 'x');
  const mean = input(args.inputs, 'mean');
  const variance = input(args.inputs, 'variance');
  const gamma = input(args.inputs, 'gamma');
  const epsilon = epsilonOf(BATCH_NORM_TRAINING_GRAD_KERNEL, args.attrs);
  const [rows, cols] = geometry(BATCH_NORM_TRAINING_GRAD_KERNEL, x, { mean, variance, gamma });
  if (!tf.util.arraysEqual(dy.shape, x.shape) || dy.dtype !== 'float32') {
    throw new PhalanxShapeError(BATCH_NORM_TRAINING_GRAD_KERNEL, 'dy', `float32 of x's shape [${x.shape}]`, dy.shape);
  }
  const heap = args.backend as unknown as HeapBackend;
  // The small outputs first (the weight gradients outlive dx): see batchNormTrainingForward.
  const dGamma = heap.makeOutput([cols], 'float32');
  const dBeta = heap.makeOutput([cols], 'float32');
  const dx = heap.makeOutput(x.shape, 'float32');
  const simd = simdKernels(args.backend);
  if (rows === 0) return zeroed(heap, [dx, dGamma, dBeta]);
  if (simd == null) {
    backwardOnHeap(heap, [dy, x, mean, variance, gamma, dx, dGamma, dBeta], rows, cols, epsilon);
    return [dx, dGamma, dBeta];
  }
  const at = (info: tf.TensorInfo) => pointer(args.backend, info);
  withScratch(args.backend, 3 * cols, (scratch) =>
    simd.batchNormBackward(
      at(dy),
      at(x),
      rows,
      cols,
      at(mean),
      at(variance),
      at(gamma),
      epsilon,
      at(dGamma),
      at(dBeta),
      scratch,
      at(dx),
    ),
  );
  return [dx, dGamma, dBeta];
}

/**
 * {@link MOVING_AVERAGES_KERNEL} on wasm: one pass over the four `[C]` vectors on heap views, with
 * `Math.fround` after each operation (a float32 sum, difference or product rounded from the exact double
 * result is the IEEE float32 result, so this is bitwise the backend's three kernels).
 */
function movingAverages(args: KernelArgs): tf.TensorInfo[] {
  const ins = ['movingMean', 'movingVariance', 'mean', 'variance'].map((name) => input(args.inputs, name));
  const [, channels] = geometry(MOVING_AVERAGES_KERNEL, ins[0], {
    movingVariance: ins[1],
    mean: ins[2],
    variance: ins[3],
  });
  if (ins[0].shape.length !== 1) {
    throw new PhalanxShapeError(MOVING_AVERAGES_KERNEL, 'movingMean', `of shape [${channels}]`, ins[0].shape);
  }
  const rawDecay = (args.attrs as { decay?: unknown }).decay;
  if (typeof rawDecay !== 'number' || !(rawDecay >= 0 && rawDecay <= 1)) {
    // A missing decay made both averages NaN.
    throw new PhalanxConfigError(MOVING_AVERAGES_KERNEL, 'decay', 'a number in [0, 1]', rawDecay);
  }
  const decay = Math.fround(rawDecay);
  const heap = args.backend as unknown as HeapBackend;
  const outs = [heap.makeOutput([channels], 'float32'), heap.makeOutput([channels], 'float32')];
  // Views after makeOutput: allocating may grow (and so replace) the wasm memory.
  const [m, v, mu, sigma2] = ins.map((info) => heap.typedArrayFromHeap(info));
  const [m2, v2] = outs.map((info) => heap.typedArrayFromHeap(info));
  const f = Math.fround;
  for (let c = 0; c < channels; c++) {
    m2[c] = f(m[c] - f(f(m[c] - mu[c]) * decay));
    v2[c] = f(v[c] - f(f(v[c] - sigma2[c]) * decay));
  }
  return outs;
}

/** The fused batch-norm training kernels and the moving-average update, registered for `wasm` by this package. */
export const BATCH_NORM_TRAINING_KERNELS: readonly tf.KernelConfig[] = [
  {
    kernelName: BATCH_NORM_TRAINING_KERNEL,
    backendName: WASM,
    kernelFunc: batchNormTrainingForward as unknown as tf.KernelFunc,
  },
  {
    kernelName: BATCH_NORM_TRAINING_GRAD_KERNEL,
    backendName: WASM,
    kernelFunc: batchNormTrainingBackward as unknown as tf.KernelFunc,
  },
  { kernelName: MOVING_AVERAGES_KERNEL, backendName: WASM, kernelFunc: movingAverages as unknown as tf.KernelFunc },
];
