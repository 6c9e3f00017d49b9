/**
 * `@phalanx/data` — the built-in synthetic hand renderer, FreiHAND and RHD readers, and
 * keypoint-aware augmentation.
 *
 * @packageDocumentation
 */
export * from './random';
export * from './types';
export * from './image-io';
export * from './synthetic/hand-model';
export * from './synthetic/poses';
export * from './synthetic/background';
export * from './synthetic/raster';
export * from './synthetic/render';
export * from './draw';
export * from './dataset';
export * from './batch-pack';
export * from './readers/common';
export * from './readers/freihand';
export * from './readers/rhd';
export * from './writers/freihand';
export * from './augment';
