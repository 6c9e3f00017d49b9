import * as tf from '@tensorflow/tfjs-core';
import { WASM } from './kernel-scope';
import { requireStockKernel, stockKernel } from './stock-kernels';

/** The wasm backend's bookkeeping we use: a second reference to a buffer (what `Reshape` does). */
interface RefCountingBackend {
  incRef(dataId: tf.DataId): void;
}

/** A new tensor info on `x`'s buffer (its reference count raised), as the cpu backend's `Identity` does. */
function share(x: tf.TensorInfo, backend: tf.KernelBackend, dtype = x.dtype): tf.TensorInfo {
  (backend as unknown as RefCountingBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype };
}

/**
 * `Identity` without a copy. The wasm backend's kernel copies its input into a new buffer; the engine
 * calls it for every tensor it saves for the backward pass (`tensor.clone()` in `saveTensorsForBackwardMode`),
 * so on wasm every input or output a gradient needs existed twice for the whole training step. Tensors
 * are immutable and the backend reference-counts buffers (its `Reshape` shares them the same way), so
 * the output can share the input's buffer, as on the cpu backend. Strings use the stock kernel.
 */
function identity(args: { inputs: tf.IdentityInputs; backend: tf.KernelBackend }): tf.TensorInfo {
  const { x } = args.inputs as { x: tf.TensorInfo };
  if (x.dtype === 'string') return requireStockKernel(tf.Identity).kernelFunc(args as never) as tf.TensorInfo;
  return share(x, args.backend);
}

/**
 * `Cast` to the input's own dtype without a copy (tfjs-core's `tf.moments`, used by every batch-norm
 * layer in training, casts float32 to float32); every other cast runs the stock kernel.
 */
function cast(args: { inputs: tf.CastInputs; attrs: tf.CastAttrs; backend: tf.KernelBackend }): tf.TensorInfo {
  const { x } = args.inputs as { x: tf.TensorInfo };
  if (x.dtype === args.attrs.dtype && x.dtype !== 'string') return share(x, args.backend);
  return requireStockKernel(tf.Cast).kernelFunc(args as never) as tf.TensorInfo;
}

const setupStock =
  (name: string): tf.KernelSetupFunc =>
  (backend) =>
    stockKernel(name)?.setupFunc?.(backend);

export const identityConfig: tf.KernelConfig = {
  kernelName: tf.Identity,
  backendName: WASM,
  kernelFunc: identity as unknown as tf.KernelFunc,
  setupFunc: setupStock(tf.Identity),
};

export const castConfig: tf.KernelConfig = {
  kernelName: tf.Cast,
  backendName: WASM,
  kernelFunc: cast as unknown as tf.KernelFunc,
  setupFunc: setupStock(tf.Cast),
};
