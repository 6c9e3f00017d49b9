/**
 * `@phalanx/pretrained` — trained hand-pose models behind one call: `loadHandPoseEstimator('learnable-groups'
 * | 'ehpe')` loads the weights shipped in this package (or any saved model of the two networks) and
 * returns an estimator whose `estimateHands(image)` gives the 21 joints in the image's pixels and in
 * metres, like `@tensorflow-models/hand-pose-detection`.
 *
 * @packageDocumentation
 */
export * from './errors';
export * from './card';
export * from './mean-hand';
export * from './input';
export * from './letterbox';
export * from './lift';
export * from './heads';
export * from './rotations';
export * from './estimator';
export * from './package-files';
export * from './load';
export * from './torch-weights';
