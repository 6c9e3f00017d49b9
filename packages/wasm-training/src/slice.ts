import * as tf from '@tensorflow/tfjs-core';
import { input, WASM, withScope } from './kernel-scope';
import { FOUR_BYTE_DTYPES, pointer, simdKernels } from './simd';
import { requireStockKernel, stockKernel } from './stock-kernels';

/** The parts of the wasm backend a copy kernel needs (tfjs-backend-wasm 4.22's `BackendWasm`). */
interface HeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

type Copyable = Float32Array | Int32Array | Uint8Array;

/**
 * Copies the box `begin … begin + size` of `x` (row-major `shape`) into `out`, in contiguous runs: the
 * innermost axes the box spans whole are merged into one run, so a slice along the first axis is a
 * single `set`.
 */
export function copyBox(
  x: Copyable,
  shape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
  out: Copyable,
): void {
  const rank = shape.length;
  if (rank === 0) {
    out[0] = x[0];
    return;
  }
  const strides = tf.util.computeStrides(shape as number[]);
  const stride = (axis: number) => (axis === rank - 1 ? 1 : strides[axis]);
  // Axes after `k` are whole: one run covers size[k] · (their product) elements.
  let k = rank - 1;
  while (k > 0 && size[k] === shape[k]) k--;
  const run = size[k] * stride(k);
  let rows = 1;
  for (let axis = 0; axis < k; axis++) rows *= size[axis];
  if (run === 0 || rows === 0) return;
  const index = new Array<number>(k).fill(0);
  let base = 0;
  for (let axis = 0; axis <= k; axis++) base += begin[axis] * stride(axis);
  let offset = base;
  for (let row = 0, at = 0; row < rows; row++, at += run) {
    out.set(x.subarray(offset, offset + run), at);
    // Odometer over the axes before k.
    for (let axis = k - 1; axis >= 0; axis--) {
      index[axis]++;
      offset += stride(axis);
      if (index[axis] < size[axis]) break;
      offset -= index[axis] * stride(axis);
      index[axis] = 0;
    }
  }
}

/**
 * The box `begin … begin + size` of a row-major `shape` as `rows` runs of `run` elements, `stride` apart,
 * the first at element `offset` — when its runs are evenly spaced, i.e. every axis between the first one
 * and the innermost one the box cuts is whole (a slice of channels `[B, H, W, C] → [B, H, W, c]`, of
 * rows, of a leading range); else `null`.
 *
 * @example
 * evenRuns([8, 64, 64, 96], [0, 0, 0, 32], [8, 64, 64, 32]); // { rows: 32768, run: 32, stride: 96, offset: 32 }
 */
export function evenRuns(
  shape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
): { rows: number; run: number; stride: number; offset: number } | null {
  const rank = shape.length;
  if (rank === 0) return null;
  const strides = [...tf.util.computeStrides(shape as number[]), 1];
  let k = rank - 1;
  while (k > 0 && size[k] === shape[k]) k--;
  for (let axis = 1; axis < k; axis++) if (size[axis] !== shape[axis]) return null;
  const run = size[k] * strides[k];
  const rows = size.slice(0, k).reduce((n, s) => n * s, 1);
  let offset = 0;
  for (let axis = 0; axis <= k; axis++) offset += begin[axis] * strides[axis];
  return { rows, run, stride: k === 0 ? run : strides[k - 1], offset };
}

/**
 * A new wasm buffer holding the box `begin … begin + size` of `x` (numeric dtypes): evenly spaced runs
 * of 4-byte elements ({@link evenRuns}) by the SIMD row copy, one call for all rows; others in
 * contiguous runs from heap views ({@link copyBox}; one `set` per run, ≈ 0.1 µs each, which is what a
 * slice of channels — one short run per pixel — used to cost).
 */
function sliceInfo(backend: HeapBackend, x: tf.TensorInfo, begin: number[], size: number[]): tf.TensorInfo {
  const out = backend.makeOutput(size, x.dtype);
  const kernelBackend = backend as unknown as tf.KernelBackend;
  const simd = FOUR_BYTE_DTYPES.has(x.dtype) ? simdKernels(kernelBackend) : null;
  const runs = simd == null ? null : evenRuns(x.shape, begin, size);
  if (simd != null && runs != null && runs.rows > 1 && runs.run > 0) {
    const src = pointer(kernelBackend, x) + 4 * runs.offset;
    simd.copyRows(runs.rows, src, runs.stride, pointer(kernelBackend, out), runs.run, runs.run);
    return out;
  }
  // Views are taken after makeOutput: allocating may grow (and so replace) the wasm memory.
  copyBox(backend.typedArrayFromHeap(x), x.shape, begin, size, backend.typedArrayFromHeap(out));
  return out;
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.NamedAttrMap };

function runStock(name: string, args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  return requireStockKernel(name).kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]);
}

/**
 * `Slice` for wasm, replacing the backend's kernel, which first copies the **whole input** out of the
 * wasm heap (`readSync`) and then the box it wants: a slice of a 100 MB tensor cost a 100 MB copy. Here
 * the box is copied straight from heap views, in contiguous runs. Strings use the stock kernel.
 *
 * **Shapes**: `x` any rank, `begin`/`size` as `tf.slice` → `size` (with −1 resolved).
 */
export function slice(args: KernelArgs): tf.TensorInfo {
  const x = input(args.inputs, 'x');
  if (x.dtype === 'string') return runStock(tf.Slice, args) as tf.TensorInfo;
  const { begin, size } = args.attrs as unknown as tf.SliceAttrs;
  const [begin_, size_] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size);
  tf.slice_util.assertParamsValid(x as tf.Tensor, begin_, size_);
  return sliceInfo(args.backend as unknown as HeapBackend, x, begin_, size_);
}

/** `Unpack` for wasm: the stock kernel slices through the whole-input copy of `Slice`, once per output. */
export function unpack(args: KernelArgs): tf.TensorInfo[] {
  const value = input(args.inputs, 'value');
  if (value.dtype === 'string') return runStock(tf.Unpack, args) as tf.TensorInfo[];
  const rank = value.shape.length;
  const axis = ((args.attrs as unknown as tf.UnpackAttrs).axis + rank) % rank;
  const outShape = value.shape.filter((_, i) => i !== axis);
  const begin = new Array<number>(rank).fill(0);
  const size = [...value.shape];
  size[axis] = 1;
  const outs: tf.TensorInfo[] = [];
  for (let i = 0; i < value.shape[axis]; i++) {
    begin[axis] = i;
    outs.push({ ...sliceInfo(args.backend as unknown as HeapBackend, value, begin, size), shape: outShape });
  }
  return outs;
}

/** `SplitV` for wasm: one heap-view slice per part (the stock kernel copies the whole input per part). */
export function splitV(args: KernelArgs): tf.TensorInfo[] {
  const x = input(args.inputs, 'x');
  if (x.dtype === 'string') return runStock(tf.SplitV, args) as tf.TensorInfo[];
  const { numOrSizeSplits, axis } = args.attrs as unknown as tf.SplitVAttrs;
  const $axis = tf.util.parseAxisParam(axis, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, $axis);
  const begin = new Array<number>(x.shape.length).fill(0);
  return sizes.map((s) => {
    const size = [...x.shape];
    size[$axis] = s;
    const part = sliceInfo(args.backend as unknown as HeapBackend, x, begin, size);
    begin[$axis] += s;
    return part;
  });
}

/**
 * `StridedSlice` for wasm: slices with unit strides over a contiguous box (what `tf.slice`-like
 * strided slices are) take the heap-view copy; everything else the stock kernel (its C++ loop), whose
 * int32 output is relabelled int32 (it came back labelled float32); bool tensors take that loop as int32.
 */
export function stridedSlice(args: KernelArgs): tf.TensorInfo {
  const x = input(args.inputs, 'x');
  const a = args.attrs as unknown as tf.StridedSliceAttrs;
  if (x.dtype === 'string') return runStock(tf.StridedSlice, args) as tf.TensorInfo;
  const info = tf.slice_util.sliceInfo(
    x.shape,
    a.begin,
    a.end,
    a.strides,
    a.beginMask,
    a.endMask,
    a.ellipsisMask,
    a.newAxisMask,
    a.shrinkAxisMask,
  );
  if (info.isIdentity || !(info.sliceDim0 || info.isSimpleSlice)) {
    if (x.dtype === 'bool') {
      // The stock C++ loop copies 4-byte words: a bool tensor (1 byte each) came back as float32 garbage.
      // Its 0/1 values go through int32 and back.
      return withScope(args.backend, (scope) => {
        const ints = scope.run(tf.Cast, { x }, { dtype: 'int32' });
        const sliced = scope.adopt(stridedSlice({ ...args, inputs: { x: ints } }));
        return scope.run(tf.Cast, { x: sliced }, { dtype: 'bool' });
      });
    }
    const out = runStock(tf.StridedSlice, args) as tf.TensorInfo;
    // The stock C++ path copies 4-byte words but labels its output float32: an int32 input came back
    // as float32 bit patterns. The words are right, so the label is put back.
    if (x.dtype === 'int32' && out.dtype !== 'int32') {
      const data = (args.backend as unknown as { dataIdMap: { get(id: tf.DataId): { dtype: tf.DataType } } }).dataIdMap;
      data.get(out.dataId).dtype = 'int32';
      return { ...out, dtype: 'int32' };
    }
    return out;
  }
  const size = tf.slice_util.computeOutShape(info.begin, info.end, info.strides);
  const out = sliceInfo(args.backend as unknown as HeapBackend, x, info.begin, size);
  return { ...out, shape: info.finalShape };
}

/**
 * `Concat` for wasm: the stock kernel copies one run per input and outer index in JavaScript (`subarray` +
 * `set`, ≈ 0.1 µs each: a channel concatenation of `[16, 64, 64, C]` maps is 2 × 65 536 of them). Here
 * each input is one SIMD row copy into its columns of the output. Inputs of other dtypes than float32 and
 * int32, and concatenations with fewer than two non-empty inputs, use the stock kernel.
 *
 * **Shapes**: `xs` equal but on `axis` → `axis` the sum of theirs.
 */
export function concat(args: KernelArgs): tf.TensorInfo {
  const xs = Object.values(args.inputs) as tf.TensorInfo[];
  const simd = simdKernels(args.backend);
  const nonEmpty = xs.filter((t) => tf.util.sizeFromShape(t.shape) > 0);
  const dtype = xs[0]?.dtype;
  if (simd == null || nonEmpty.length < 2 || !FOUR_BYTE_DTYPES.has(dtype) || xs.some((t) => t.dtype !== dtype)) {
    return runStock(tf.Concat, args) as tf.TensorInfo;
  }
  const axis = tf.util.parseAxisParam((args.attrs as unknown as tf.ConcatAttrs).axis, xs[0].shape)[0];
  const shapes = xs.map((t) => t.shape);
  tf.backend_util.assertParamsConsistent(shapes, axis);
  const outShape = tf.backend_util.computeOutShape(shapes, axis);
  const out = (args.backend as unknown as HeapBackend).makeOutput(outShape, dtype);
  const rows = tf.util.sizeFromShape(outShape.slice(0, axis));
  const widths = nonEmpty.map((t) => tf.util.sizeFromShape(t.shape.slice(axis)));
  const total = widths.reduce((a, b) => a + b, 0);
  const dst = pointer(args.backend, out);
  let column = 0;
  nonEmpty.forEach((t, i) => {
    simd.copyRows(rows, pointer(args.backend, t), widths[i], dst + 4 * column, total, widths[i]);
    column += widths[i];
  });
  return out;
}

/** Binds the stock kernel's wasm function (its setup) when the backend starts with ours registered. */
function setupStock(name: string): tf.KernelSetupFunc {
  return (backend) => stockKernel(name)?.setupFunc?.(backend);
}

/** The copy kernels of this file, each replacing the wasm backend's own (kept for strings). */
export const SLICE_KERNELS: readonly tf.KernelConfig[] = [
  { kernelName: tf.Slice, backendName: WASM, kernelFunc: slice as unknown as tf.KernelFunc },
  { kernelName: tf.Concat, backendName: WASM, kernelFunc: concat as unknown as tf.KernelFunc },
  { kernelName: tf.Unpack, backendName: WASM, kernelFunc: unpack as unknown as tf.KernelFunc },
  { kernelName: tf.SplitV, backendName: WASM, kernelFunc: splitV as unknown as tf.KernelFunc },
  {
    kernelName: tf.StridedSlice,
    backendName: WASM,
    kernelFunc: stridedSlice as unknown as tf.KernelFunc,
    setupFunc: setupStock(tf.StridedSlice),
  },
];
