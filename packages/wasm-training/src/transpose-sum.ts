import * as tf from '@tensorflow/tfjs-core';
import { input, WASM } from './kernel-scope';
import { FOUR_BYTE_DTYPES, pointer, simdKernels } from './simd';
import { requireStockKernel, stockKernel } from './stock-kernels';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.NamedAttrMap };

interface MakeOutput {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

interface HeapViews {
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
}

/**
 * `shape`/`perm` of a transpose with size-1 axes dropped and runs of input axes that stay adjacent
 * and in order merged: e.g. `[32, 8, 21, 64]` with perm `[0, 1, 3, 2]` → `[256, 21, 64]`, `[0, 2, 1]`.
 */
export function collapseTranspose(
  shape: readonly number[],
  perm: readonly number[],
): { shape: number[]; perm: number[] } {
  const kept = shape.map((_, axis) => axis).filter((axis) => shape[axis] !== 1);
  const renumber = new Map(kept.map((axis, i) => [axis, i]));
  const s = kept.map((axis) => shape[axis]);
  const p = perm.filter((axis) => shape[axis] !== 1).map((axis) => renumber.get(axis) as number);
  // Runs of consecutive input axes in output order.
  const runs: number[][] = [];
  for (const axis of p) {
    const last = runs[runs.length - 1];
    if (last != null && last[last.length - 1] + 1 === axis) last.push(axis);
    else runs.push([axis]);
  }
  const byInput = [...runs].sort((x, y) => x[0] - y[0]);
  return {
    shape: byInput.map((run) => run.reduce((size, axis) => size * s[axis], 1)),
    perm: runs.map((run) => byInput.indexOf(run)),
  };
}

/**
 * The SIMD kernel call of a transpose, after merging axes ({@link collapseTranspose}), or `null`:
 * - `'matrix'`: the innermost axis moves — `[R, C] → [C, R]` or `[B, R, C] → [B, C, R]` (a matrix
 *   transpose, or the inner swap of attention's `[B, H, T, d] → [B, H, d, T]`);
 * - `'blocks'`: the innermost axis stays and two outer ones swap — `[R, C, D] → [C, R, D]` or
 *   `[B, R, C, D] → [B, C, R, D]` (stacked groups `[G, N, C] → [N, G, C]`, attention heads
 *   `[B, T, H, d] → [B, H, T, d]`), moving whole rows of D elements.
 */
export function transposePlan(
  shape: readonly number[],
  perm: readonly number[],
): { kind: 'matrix' | 'blocks'; batch: number; rows: number; cols: number; inner: number } | null {
  const c = collapseTranspose(shape, perm);
  const [p, s] = [c.perm, c.shape];
  if (p.length === 2 && p[0] === 1) return { kind: 'matrix', batch: 1, rows: s[0], cols: s[1], inner: 1 };
  if (p.length === 3 && p[0] === 0 && p[1] === 2) {
    return { kind: 'matrix', batch: s[0], rows: s[1], cols: s[2], inner: 1 };
  }
  if (p.length === 3 && p[0] === 1 && p[1] === 0) {
    return { kind: 'blocks', batch: 1, rows: s[0], cols: s[1], inner: s[2] };
  }
  if (p.length === 4 && p[0] === 0 && p[1] === 2 && p[2] === 1) {
    return { kind: 'blocks', batch: s[0], rows: s[1], cols: s[2], inner: s[3] };
  }
  return null;
}

/**
 * `Transpose` for wasm, wrapping the backend's kernel: the transposes {@link transposePlan} recognises,
 * of 4-byte elements, run the package's SIMD kernels — a matrix transpose in 32 × 32 tiles of 4 × 4
 * blocks, or a transpose of whole innermost rows (the stock kernel's element loop took ≈ 10 ns per
 * element for `[8192, 256]`, and ≈ 3.7 ns for `[3, 32768, 32] → [32768, 3, 32]`). Every other
 * transpose is the stock kernel.
 */
export function transpose(args: KernelArgs): tf.TensorInfo {
  const x = input(args.inputs, 'x');
  const { perm } = args.attrs as unknown as tf.TransposeAttrs;
  const simd = FOUR_BYTE_DTYPES.has(x.dtype) ? simdKernels(args.backend) : null;
  const plan = simd == null ? null : transposePlan(x.shape, perm);
  if (simd == null || plan == null) {
    return requireStockKernel(tf.Transpose).kernelFunc(
      args as unknown as Parameters<tf.KernelFunc>[0],
    ) as tf.TensorInfo;
  }
  const out = (args.backend as unknown as MakeOutput).makeOutput(
    perm.map((axis) => x.shape[axis]),
    x.dtype,
  );
  const [src, dst] = [pointer(args.backend, x), pointer(args.backend, out)];
  if (plan.kind === 'matrix') simd.transpose(plan.batch, src, plan.rows, plan.cols, dst);
  else simd.transposeBlocks(plan.batch, src, plan.rows, plan.cols, plan.inner, dst);
  return out;
}

/** A float32 reduction over leading axes as `batch` column sums of rows × cols matrices, or `null`. */
interface RowReduction {
  batch: number;
  rows: number;
  cols: number;
  outShape: number[];
}

/**
 * The reduction of `x` over `axis` as column sums: after dropping size-1 axes and merging runs, the
 * pattern must be `[R, C] → [C]` or `[B, R, C] → [B, C]` (summed axes followed by kept ones), else `null`.
 */
function rowReduction(x: tf.TensorInfo, axis: number | number[], keepDims: boolean): RowReduction | null {
  const axes = tf.util.parseAxisParam(axis, x.shape);
  const groups: Array<{ reduced: boolean; size: number }> = [];
  x.shape.forEach((size, i) => {
    if (size === 1) return;
    const reduced = axes.includes(i);
    const last = groups[groups.length - 1];
    if (last != null && last.reduced === reduced) last.size *= size;
    else groups.push({ reduced, size });
  });
  const pattern = groups.map((g) => (g.reduced ? 'r' : 'k')).join('');
  if (pattern !== 'rk' && pattern !== 'krk') return null;
  const [batch, rows, cols] = pattern === 'rk' ? [1, groups[0].size, groups[1].size] : groups.map((g) => g.size);
  const outShape = keepDims
    ? x.shape.map((size, i) => (axes.includes(i) ? 1 : size))
    : x.shape.filter((_, i) => !axes.includes(i));
  return { batch, rows, cols, outShape };
}

/** The column sums of a {@link RowReduction} of `x` into a new output (float32). */
function sumRowsOf(backend: tf.KernelBackend, x: tf.TensorInfo, r: RowReduction): tf.TensorInfo {
  const simd = simdKernels(backend) as NonNullable<ReturnType<typeof simdKernels>>;
  const out = (backend as unknown as MakeOutput).makeOutput(r.outShape, 'float32');
  simd.sumRows(r.batch, pointer(backend, x), r.rows, r.cols, pointer(backend, out));
  return out;
}

/** The reduction route of a `Sum`/`Mean` call: column sums, or `null` for the stock kernel. */
function reductionRoute(args: KernelArgs): RowReduction | null {
  const x = input(args.inputs, 'x');
  if (x.dtype !== 'float32' || simdKernels(args.backend) == null) return null;
  const { axis, keepDims } = args.attrs as unknown as tf.SumAttrs;
  return rowReduction(x, axis, keepDims);
}

/**
 * The result of a `Sum` (`dtype` x's, bool summed as int32) or `Mean` (`float32`) of an `x` with no
 * elements: zeros of the reduced shape, as the cpu backend gives (the stock wasm kernels return their
 * output buffer unwritten, and a mean of no rows divided 0 by 0); `null` when `x` has elements.
 */
function emptyReduction(args: KernelArgs, dtype: 'float32' | null): tf.TensorInfo | null {
  const x = input(args.inputs, 'x');
  if (tf.util.sizeFromShape(x.shape) !== 0 || x.dtype === 'string') return null;
  const { axis, keepDims } = args.attrs as unknown as tf.SumAttrs;
  const axes = tf.util.parseAxisParam(axis, x.shape);
  const [reduced] = tf.backend_util.computeOutAndReduceShapes(x.shape, axes);
  const shape = keepDims ? tf.backend_util.expandShapeToKeepDim(reduced, axes) : reduced;
  const outDtype = dtype ?? (x.dtype === 'bool' ? 'int32' : x.dtype);
  const out = (args.backend as unknown as MakeOutput).makeOutput(shape, outDtype);
  (args.backend as unknown as HeapViews).typedArrayFromHeap(out).fill(0);
  return out;
}

/**
 * `Sum` for wasm, wrapping the backend's kernel: a float32 sum over a run of axes followed by kept
 * axes — after merging, `[R, C] → [C]` or `[B, R, C] → [B, C]` (bias gradients, sums over the batch,
 * per-channel sums of NHWC activations) — adds whole rows with the package's SIMD kernel (the stock
 * kernel first transposed the summed axes to the end). Sums over the innermost axes, and other dtypes,
 * are the stock kernel. A sum of no values is zeros (see {@link emptyReduction}).
 */
export function sum(args: KernelArgs): tf.TensorInfo {
  const empty = emptyReduction(args, null);
  if (empty != null) return empty;
  const route = reductionRoute(args);
  if (route == null) {
    return requireStockKernel(tf.Sum).kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  return sumRowsOf(args.backend, input(args.inputs, 'x'), route);
}

/**
 * `Mean` for wasm, wrapping the backend's kernel: the float32 means the {@link sum} wrapper's route
 * covers — e.g. per-channel means of NHWC activations, `[N, H, W, C] → [C]` (or `[1, 1, 1, C]` with
 * `keepDims`) — as one pass of SIMD column sums, each then divided by the number of summed values:
 * `mean[b, c] = (Σ_r x[b, r, c]) / R`. The stock kernel first copied x transposed so that the summed
 * axes were innermost. Means over the innermost axes, and other dtypes, are the stock kernel. A mean of
 * no values is zeros, as on cpu (see {@link emptyReduction}).
 */
export function mean(args: KernelArgs): tf.TensorInfo {
  const empty = emptyReduction(args, 'float32');
  if (empty != null) return empty;
  const route = reductionRoute(args);
  if (route == null) {
    return requireStockKernel(tf.Mean).kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  const out = sumRowsOf(args.backend, input(args.inputs, 'x'), route);
  const values = (args.backend as unknown as HeapViews).typedArrayFromHeap(out);
  for (let i = 0; i < values.length; i++) values[i] /= route.rows;
  return out;
}

/** Binds the stock kernel's wasm function (its setup) when the backend starts with ours registered. */
function setupStock(name: string): tf.KernelSetupFunc {
  return (backend) => stockKernel(name)?.setupFunc?.(backend);
}

/** The `Transpose`, `Sum` and `Mean` wrappers of this file (registered only where the stock kernels exist). */
export const TRANSPOSE_SUM_KERNELS: readonly tf.KernelConfig[] = [
  {
    kernelName: tf.Transpose,
    backendName: WASM,
    kernelFunc: transpose as unknown as tf.KernelFunc,
    setupFunc: setupStock(tf.Transpose),
  },
  { kernelName: tf.Sum, backendName: WASM, kernelFunc: sum as unknown as tf.KernelFunc, setupFunc: setupStock(tf.Sum) },
  {
    kernelName: tf.Mean,
    backendName: WASM,
    kernelFunc: mean as unknown as tf.KernelFunc,
    setupFunc: setupStock(tf.Mean),
  },
];
