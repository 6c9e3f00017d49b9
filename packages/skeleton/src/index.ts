/**
 * `@phalanx/skeleton` — the 21-joint hand skeleton in FreiHAND / MANO order (joint names, parents,
 * bones, fingers, tips, EHPE's wrist-and-tips set, the scale bone), defined once for every Phalanx
 * package. No dependencies, no side effects.
 *
 * @packageDocumentation
 */
export * from './skeleton';
