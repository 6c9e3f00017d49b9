/**
 * `@phalanx/layers` — custom TensorFlow.js layers for 3D hand pose estimation.
 *
 * @packageDocumentation
 */
export * from './io/file-system';
export * from './keypoints/soft-argmax-25d';
export * from './keypoints/joint-feature-sampler';
export * from './fusion/dual-branch-fusion';
export * from './selector/concrete-joint-selector';
export * from './selector/temperature';
export * from './fusion/group-fusion';
export * from './util/initializers';
export * from './graph/adjacency';
export * from './graph/dynamic-edge-gat';
export * from './attention/multi-head-attention';
export * from './util/activations';
export * from './util/log-sum-exp';
export * from './util/checks';
export * from './util/phalanx-layer';
export * from './util/noise-stream';
export * from './regularization/seeded-dropout';
export * from './graph/masked-softmax';
export * from './io/safetensors';
export * from './io/torch-import';
export * from './io/torch-layout';
export * from './io/torch-converters';
export * from './io/torch-state-dict';
export * from './spatial/resize-bilinear';
export * from './io/pth/read';
export { isTorchTensor, type TorchDtype, type TorchStorage, type TorchTensor } from './io/pth/torch-pickle';
export * from './io/pth/write';
export { isBatchNormalization, isLayerNormalization } from './normalization/stock';
export type { BatchNormalizationArgs, LayerNormalizationArgs } from './normalization/stock';
export * from './normalization/lean-batch-norm';
export * from './normalization/fused-batch-norm-kernels';
export * from './normalization/last-axis-layer-norm';
export * from './normalization/channel-affine';
