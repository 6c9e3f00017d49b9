import * as tf from '@tensorflow/tfjs-core';

/** The backend every kernel of this package runs on. */
export const WASM = 'wasm';

type Attrs = Record<string, unknown>;

/**
 * Runs other `wasm` kernels from inside a kernel function, at the `TensorInfo` level (no engine
 * tensors, no tape), and frees every intermediate it created when the caller is done.
 *
 * Every `run`/`write` result is owned by the scope; `finish(result)` disposes all of them except
 * `result`, whose ownership passes to the engine (it becomes the kernel's output). A reshape in the
 * wasm backend shares its input's buffer and raises its reference count, so disposing through
 * `backend.disposeData` is always right, even for views of the kernel's own inputs.
 */
export class KernelScope {
  private readonly owned: tf.TensorInfo[] = [];

  constructor(readonly backend: tf.KernelBackend) {}

  /** Runs the registered `wasm` kernel `name` and takes ownership of its output. */
  run(name: string, inputs: tf.NamedTensorInfoMap, attrs: Attrs = {}): tf.TensorInfo {
    const config = tf.getKernel(name, WASM);
    if (config == null) throw new Error(`@phalanx/wasm-training: the wasm backend has no '${name}' kernel.`);
    const out = config.kernelFunc({
      inputs: inputs as tf.NamedTensorInfoMap,
      backend: this.backend,
      attrs: attrs as tf.NamedAttrMap,
    });
    if (Array.isArray(out)) throw new Error(`@phalanx/wasm-training: '${name}' returned several outputs.`);
    this.owned.push(out);
    return out;
  }

  /** Takes ownership of an info produced outside {@link run} (e.g. one of several kernel outputs). */
  adopt(info: tf.TensorInfo): tf.TensorInfo {
    this.owned.push(info);
    return info;
  }

  /** Copies host values into a new backend buffer owned by the scope. */
  write(values: Float32Array | Int32Array, shape: number[], dtype: 'float32' | 'int32'): tf.TensorInfo {
    const dataId = this.backend.write(values, shape, dtype);
    const info = { dataId, shape, dtype };
    this.owned.push(info);
    return info;
  }

  /** A new, uninitialised float32 backend buffer owned by the scope (for the SIMD kernels to write). */
  output(shape: number[]): tf.TensorInfo {
    const backend = this.backend as unknown as { makeOutput(s: number[], d: tf.DataType): tf.TensorInfo };
    return this.adopt(backend.makeOutput(shape, 'float32'));
  }

  reshape(x: tf.TensorInfo, shape: number[]): tf.TensorInfo {
    return this.run(tf.Reshape, { x }, { shape });
  }

  transpose(x: tf.TensorInfo, perm: number[]): tf.TensorInfo {
    return this.run(tf.Transpose, { x }, { perm });
  }

  /** Zero padding with one `[before, after]` pair per axis (all ≥ 0). */
  pad(x: tf.TensorInfo, paddings: Array<[number, number]>): tf.TensorInfo {
    if (paddings.every(([a, b]) => a === 0 && b === 0)) return x;
    return this.run(tf.PadV2, { x }, { paddings, constantValue: 0 });
  }

  /** `x` zero-padded at the end of its last `extra.length` axes by `extra` (e.g. channels up to Winograd's counts). */
  padTrailing(x: tf.TensorInfo, extra: number[]): tf.TensorInfo {
    const lead = x.shape.length - extra.length;
    return this.pad(
      x,
      x.shape.map((_, axis): [number, number] => [0, axis < lead ? 0 : extra[axis - lead]]),
    );
  }

  slice(x: tf.TensorInfo, begin: number[], size: number[]): tf.TensorInfo {
    if (begin.every((b) => b === 0) && size.every((s, i) => s === x.shape[i])) return x;
    return this.run(tf.Slice, { x }, { begin, size });
  }

  stridedSlice(x: tf.TensorInfo, begin: number[], end: number[], strides: number[]): tf.TensorInfo {
    return this.run(
      tf.StridedSlice,
      { x },
      { begin, end, strides, beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0 },
    );
  }

  /** Frees every intermediate except `result` and returns `result`. */
  finish(result: tf.TensorInfo): tf.TensorInfo {
    // A result that is not ours (an input handed back unchanged) needs its own reference.
    if (!this.owned.includes(result)) this.backend.incRef(result.dataId);
    for (const info of this.owned) {
      if (info !== result) this.backend.disposeData(info.dataId);
    }
    this.owned.length = 0;
    return result;
  }

  /** Frees everything (used when a kernel throws). */
  dispose(): void {
    for (const info of this.owned) this.backend.disposeData(info.dataId);
    this.owned.length = 0;
  }
}

/** Runs `body` in a fresh scope: the returned info is the kernel output, everything else is freed. */
export function withScope(backend: tf.KernelBackend, body: (scope: KernelScope) => tf.TensorInfo): tf.TensorInfo {
  const scope = new KernelScope(backend);
  try {
    return scope.finish(body(scope));
  } catch (error) {
    scope.dispose();
    throw error;
  }
}

/** The kernel input `name`, or a clear error when the caller did not pass it. */
export function input(inputs: tf.NamedTensorInfoMap, name: string): tf.TensorInfo {
  const info = inputs[name];
  if (info == null) throw new Error(`@phalanx/wasm-training: missing kernel input '${name}'.`);
  return info;
}
