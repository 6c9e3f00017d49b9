/**
 * `@phalanx/layers` — custom TensorFlow.js layers for 3D hand pose estimation.
 *
 * @packageDocumentation
 */
export * from './errors';
export * from './io/file-system';
