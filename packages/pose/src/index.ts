/**
 * `@phalanx/pose` — hand skeleton, geometry and the official hand-pose evaluation metrics.
 *
 * @packageDocumentation
 */
export { checkFinite, checkInteger, checkPositive, PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
export * from './skeleton';
export * from './linalg';
export * from './geometry';
export * from './metrics';
export * from './evaluator';
export * from './pck-svg';
