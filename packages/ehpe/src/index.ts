/**
 * `@phalanx/ehpe` — the EHPE segmented hand-pose network for TensorFlow.js: the TIP-and-wrist stage,
 * the initial 21-joint layout, the feature enhancement module, the prior-guided stage, the whole model,
 * and the import of the release's PyTorch weights.
 *
 * @packageDocumentation
 */
export * from './config';
export * from './init21';
export * from './tw-stage';
export * from './fem';
export * from './model';
export * from './torch-import';
export * from './training-targets';
export * from './training-losses';
export * from './volume-losses';
export * from './training';
export * from './pg-only';
