/**
 * `@phalanx/wasm-training` — the gradient kernels `@tensorflow/tfjs-backend-wasm` lacks, and its
 * multi-threaded build in Node and cross-origin-isolated pages. Importing the package imports
 * `@tensorflow/tfjs-backend-wasm` and registers the kernels for the `wasm` backend; threads are opt-in
 * ({@link enableWasmThreads}).
 *
 * @packageDocumentation
 */
export * from './register';
export {
  setConv2DBackpropFilterStrategy,
  getConv2DBackpropFilterStrategy,
  setConv2DBackpropInputStrategy,
  getConv2DBackpropInputStrategy,
  type FilterGradStrategy,
  type InputGradStrategy,
} from './conv2d-backprop';
export { fusedBatchNormGradConfig } from './batch-norm-grad';
export {
  BATCH_NORM_TRAINING_KERNEL,
  BATCH_NORM_TRAINING_GRAD_KERNEL,
  MOVING_AVERAGES_KERNEL,
} from './batch-norm-training';
export { reluGradConfig } from './relu-grad';
export { setSimdKernelsEnabled } from './simd';
export { enableLeanBackprop, disableLeanBackprop, isLeanBackpropEnabled } from './lean-backprop';
export {
  enableWinogradConvolution,
  disableWinogradConvolution,
  isWinogradConvolutionEnabled,
  WINOGRAD_MIN_PADDED_FORWARD_CHANNELS,
  WINOGRAD_MIN_FORWARD_CHANNEL_PRODUCT,
  WINOGRAD_MIN_FORWARD_MACS_THREADED,
} from './winograd-convolution';
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
