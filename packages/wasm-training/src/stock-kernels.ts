import type * as tf from '@tensorflow/tfjs-core';

/** The wasm backend's own kernels that this package replaced, by kernel name (first one seen). */
const stock = new Map<string, tf.KernelConfig>();

/** Remembers the backend's kernel `config` before it is replaced (the first one seen wins). */
export function rememberStockKernel(config: tf.KernelConfig): void {
  if (!stock.has(config.kernelName)) stock.set(config.kernelName, config);
}

/** The backend's own kernel replaced under `name`, if any. */
export function stockKernel(name: string): tf.KernelConfig | undefined {
  return stock.get(name);
}

/** The backend's own kernel `name`, or a clear error when it was never registered. */
export function requireStockKernel(name: string): tf.KernelConfig {
  const config = stock.get(name);
  if (config == null) {
    throw new Error(
      `@phalanx/wasm-training: the wasm backend's own '${name}' kernel was not found; import ` +
        `'@tensorflow/tfjs-backend-wasm' before '@phalanx/wasm-training' (or call registerWasmTrainingKernels() again).`,
    );
  }
  return config;
}
