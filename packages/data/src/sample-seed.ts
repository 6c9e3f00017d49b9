import { Rng } from './random';

/**
 * The per-sample seed of sample `index` of the dataset with seed `seed`: sample `index` of
 * `syntheticHands({ seed })` is `renderSyntheticHand(sampleSeed(seed, index))`.
 *
 * @example
 * console.log(sampleSeed(1, 0) === sampleSeed(1, 0)); // true
 */
export function sampleSeed(seed: number, index: number): number {
  return new Rng(seed, index).nextUint32();
}
