import { checkInteger, checkIntegerIn, PhalanxConfigError } from '@phalanx/errors';
import { Rng } from './random';

/**
 * The per-sample seed of sample `index` of the dataset with seed `seed`: sample `index` of
 * `syntheticHands({ seed })` is `renderSyntheticHand(sampleSeed(seed, index))`. Every seed and index up to
 * `Number.MAX_SAFE_INTEGER` has its own stream (seeds from 2⁶⁴ up included); an `index` above it, where
 * consecutive indices are no longer distinct numbers, is a `PhalanxConfigError`.
 *
 * The result is a 32-bit integer, so two indices (of one seed or of two) share it — and render the same
 * sample — with probability 2⁻³²: about n²/2³³ repeated pairs among n samples (seed 0 samples 82240 and 85454;
 * seed 0 sample 32899 and seed 1 sample 68169). Kept so that every pinned stream stays bit for bit; compare
 * `sampleSeed`s to keep a held-out set free of training samples.
 *
 * @example
 * console.log(sampleSeed(1, 0) === sampleSeed(1, 0)); // true
 */
export function sampleSeed(seed: number, index: number): number {
  if (index > Number.MAX_SAFE_INTEGER) {
    throw new PhalanxConfigError('sampleSeed', 'index', 'at most Number.MAX_SAFE_INTEGER (9007199254740991)', index);
  }
  return new Rng(seed, index).nextUint32();
}

/**
 * Checks the sample range `start … start + count − 1` of a synthetic dataset and returns its end (exclusive;
 * `Infinity` without a count): `start` an integer in [0, `Number.MAX_SAFE_INTEGER`], `count` an integer ≥ 0
 * with `start + count ≤ Number.MAX_SAFE_INTEGER`, so that every index of the range is a distinct number
 * (past 2⁵³, `start + count` rounds and `i + 1 === i`). A `PhalanxConfigError` of `component` otherwise.
 *
 * @example
 * const end = checkSampleRange('syntheticHands', 10, 5); // 15
 */
export function checkSampleRange(component: string, start: number, count: number | undefined): number {
  const max = Number.MAX_SAFE_INTEGER;
  if (count !== undefined) checkInteger(component, 'count', count, 0);
  checkIntegerIn(component, 'start', start, 0, max);
  if (count === undefined) return Infinity;
  if (count > max - start) {
    const expected = `an integer ≥ 0 with start + count ≤ Number.MAX_SAFE_INTEGER (at most ${max - start} here)`;
    throw new PhalanxConfigError(component, 'count', expected, count);
  }
  return start + count;
}
