import * as tf from '@tensorflow/tfjs-core';
import { conv2DBackpropFilter, conv2DBackpropInput } from './conv2d-backprop';
import { depthwiseConv2dNativeBackpropFilter, depthwiseConv2dNativeBackpropInput } from './depthwise-backprop';
import { WASM } from './kernel-scope';
import { unsortedSegmentSum } from './unsorted-segment-sum';

/**
 * The kernels this package registers for the `wasm` backend. The first four are missing from
 * `@tensorflow/tfjs-backend-wasm` 4.22; `Conv2DBackpropInput` replaces the backend's scalar loop
 * (≈ 30× slower than its XNNPACK convolution) by a convolution.
 */
export const WASM_TRAINING_KERNELS: readonly tf.KernelConfig[] = [
  { kernelName: tf.Conv2DBackpropFilter, backendName: WASM, kernelFunc: conv2DBackpropFilter as unknown as tf.KernelFunc },
  { kernelName: tf.Conv2DBackpropInput, backendName: WASM, kernelFunc: conv2DBackpropInput as unknown as tf.KernelFunc },
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
];

const registered = new Set<tf.KernelConfig>();

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
    const current = tf.getKernel(config.kernelName, WASM);
    if (current === config) continue;
    if (current != null) tf.unregisterKernel(config.kernelName, WASM);
    tf.registerKernel(config);
    registered.add(config);
  }
}

/** Names of the kernels currently provided by this package on `wasm`. */
export function wasmTrainingKernelNames(): string[] {
  return WASM_TRAINING_KERNELS.filter((k) => tf.getKernel(k.kernelName, WASM) === k).map((k) => k.kernelName);
}

registerWasmTrainingKernels();
