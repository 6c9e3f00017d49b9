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
  setConv2DBackpropInputStrategy,
  getConv2DBackpropInputStrategy,
  type FilterGradStrategy,
  type InputGradStrategy,
} from './conv2d-backprop';
export { fusedBatchNormGradConfig } from './batch-norm-grad';
export { reluGradConfig } from './relu-grad';
export { setSimdKernelsEnabled } from './simd';
export { enableLeanBackprop, disableLeanBackprop, isLeanBackpropEnabled } from './lean-backprop';
