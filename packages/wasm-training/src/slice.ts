import * as tf from '@tensorflow/tfjs-core';
import { input, WASM } from './kernel-scope';
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

/** A new wasm buffer holding the box `begin … begin + size` of `x` (numeric dtypes). */
function sliceInfo(backend: HeapBackend, x: tf.TensorInfo, begin: number[], size: number[]): tf.TensorInfo {
  const out = backend.makeOutput(size, x.dtype);
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
 * int32 output is relabelled int32 (it came back labelled float32).
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

/** Binds the stock kernel's wasm function (its setup) when the backend starts with ours registered. */
function setupStock(name: string): tf.KernelSetupFunc {
  return (backend) => stockKernel(name)?.setupFunc?.(backend);
}

/** The copy kernels of this file, each replacing the wasm backend's own (kept for strings). */
export const SLICE_KERNELS: readonly tf.KernelConfig[] = [
  { kernelName: tf.Slice, backendName: WASM, kernelFunc: slice as unknown as tf.KernelFunc },
  { kernelName: tf.Unpack, backendName: WASM, kernelFunc: unpack as unknown as tf.KernelFunc },
  { kernelName: tf.SplitV, backendName: WASM, kernelFunc: splitV as unknown as tf.KernelFunc },
  {
    kernelName: tf.StridedSlice,
    backendName: WASM,
    kernelFunc: stridedSlice as unknown as tf.KernelFunc,
    setupFunc: setupStock(tf.StridedSlice),
  },
];
