/**
 * `@phalanx/wasm-training` — the gradient kernels `@tensorflow/tfjs-backend-wasm` lacks. Importing the
 * package registers them for the `wasm` backend.
 *
 * @packageDocumentation
 */
export * from './register';
export {
  setConv2DBackpropFilterStrategy,
  getConv2DBackpropFilterStrategy,
  type FilterGradStrategy,
} from './conv2d-backprop';
export { fusedBatchNormGradConfig } from './batch-norm-grad';
export { reluGradConfig } from './relu-grad';
export { enableLeanBackprop, disableLeanBackprop, isLeanBackpropEnabled } from './lean-backprop';
export {
  enableWasmThreads,
  setThreadedWasmBackend,
  disableWasmThreads,
  wasmThreadsEnabled,
  wasmThreadsSupported,
  defaultWasmThreadsCount,
  MAX_WASM_THREADS,
  type WasmThreadsOptions,
} from './wasm-threads';
