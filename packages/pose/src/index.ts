/**
 * `@phalanx/pose` — hand skeleton, geometry and the official hand-pose evaluation metrics.
 *
 * @packageDocumentation
 */
export * from './skeleton';
export * from './linalg';
export * from './geometry';
export * from './metrics';
export * from './evaluator';
export * from './pck-svg';
