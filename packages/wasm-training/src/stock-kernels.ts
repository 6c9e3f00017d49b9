import * as tf from '@tensorflow/tfjs-core';

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

/**
 * Registers `config` in place of the kernel of its name (remembering that one as the stock kernel, the
 * first time). Nothing happens when `config` is already registered.
 */
export function installKernel(config: tf.KernelConfig): void {
  const current = tf.getKernel(config.kernelName, config.backendName);
  if (current === config) return;
  if (current != null) {
    rememberStockKernel(current);
    tf.unregisterKernel(config.kernelName, config.backendName);
  }
  tf.registerKernel(config);
}

/**
 * Unregisters `config` if it is the registered kernel of its name, and registers the stock kernel it
 * replaced again (running its setup, which binds its wasm function, when the backend has started).
 */
export function restoreStockKernel(config: tf.KernelConfig): void {
  if (tf.getKernel(config.kernelName, config.backendName) !== config) return;
  tf.unregisterKernel(config.kernelName, config.backendName);
  const original = stockKernel(config.kernelName);
  if (original == null) return;
  tf.registerKernel(original);
  // Its setup is skipped by the engine when it was replaced before the backend started. Only a backend
  // that has started is set up here: `tf.findBackend` would start one that has not (wasm starts
  // asynchronously), leaving the active backend unusable until it is ready; one that starts later runs
  // the setup of the kernels registered then, this one included.
  const backend = startedBackend(config.backendName);
  if (backend != null && original.setupFunc != null) original.setupFunc(backend);
}

/** The backend `name` if the engine has started it, without starting it. */
function startedBackend(name: string): tf.KernelBackend | undefined {
  return (tf.engine() as unknown as { registry: Partial<Record<string, tf.KernelBackend>> }).registry[name];
}
