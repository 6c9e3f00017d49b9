/**
 * `@phalanx/learnable-groups` — the Learnable Joint Groups hand-pose network (AAAI 2021) for
 * TensorFlow.js: the model, the import of the official PyTorch checkpoint, and the preprocessing.
 *
 * @packageDocumentation
 */
export * from './model';
export * from './torch-import';
export * from './preprocess';
