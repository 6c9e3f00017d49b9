/**
 * `@phalanx/losses` — losses for 3D hand pose estimation (Learnable Groups, EHPE) for TensorFlow.js.
 * Every loss takes `(target, prediction)` and returns a scalar.
 *
 * @packageDocumentation
 */
export * from './heatmap-mse';
export * from './mpjpe';
export * from './squared-distance';
export * from './xyz-l1';
export * from './edge-stability';
export * from './l1-penalty';
