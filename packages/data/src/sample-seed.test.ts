import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PhalanxConfigError } from '@phalanx/errors';
import { syntheticHands } from './dataset';
import { Rng } from './random';
import { sampleSeed } from './sample-seed';

const digest = (a: ArrayBufferView) =>
  createHash('sha256')
    .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
    .digest('hex')
    .slice(0, 16);

const imageOf = (seed: number, index: number, size?: number) =>
  [...syntheticHands({ seed, start: index, count: 1, ...(size === undefined ? {} : { size }) })][0].image;

/**
 * The seed hash as it was before seeds ≥ 2⁶³ and streams ≥ 2³² were given their own streams (main at d93f262),
 * frozen: every value it kept apart must keep its sample, bit for bit.
 */
function frozenSampleSeed(seed: number, stream: number): number {
  const hi = Math.floor(seed / 4294967296) | 0;
  let x = (seed >>> 0) ^ Math.imul(hi, 0x9e3779b1) ^ Math.imul(stream | 0, 0x85ebca6b);
  if (!Number.isInteger(seed)) x ^= Math.floor((seed % 1) * 4294967296) | 0;
  const h = [0, 0, 0];
  for (let i = 0; i < 3; i++) {
    x = (x + 0x9e3779b9) | 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
    h[i] = (z ^ (z >>> 15)) >>> 0;
  }
  let [a, b, c, d] = [h[0], h[1], h[2], 1];
  let t = 0;
  for (let i = 0; i < 13; i++) {
    t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
  }
  return t >>> 0;
}

describe('the sample stream is unchanged for every seed and index it already kept apart', () => {
  it('pins images and per-sample seeds computed before the seed hash was extended', () => {
    // Digests of the image bytes (default 256 × 256), computed at d93f262.
    expect(digest(imageOf(1, 0))).toBe('c5db135562e0912f');
    expect(digest(imageOf(90210, 5))).toBe('8faf0ee80178ad36');
    const seeds = [0, 1, -1, 7, 90210, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 62, -(2 ** 62)];
    const more = [2 ** 63 - 1024, -(2 ** 63), 0.5, 1.25, -7.75];
    const indices = [0, 1, 5, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1];
    expect([...seeds, ...more].map((s) => indices.map((i) => sampleSeed(s, i)))).toEqual([
      [2899526011, 163228893, 1234429341, 598131006, 2226919815, 3617579323],
      [2420951833, 2252133130, 449596976, 1288837380, 2243557236, 3000730610],
      [1771943286, 3828788946, 295213265, 849410966, 3123899274, 1764664046],
      [1953209201, 3668640536, 2629630679, 393818443, 1849583288, 326881754],
      [2386100433, 909029362, 2512097444, 2344095612, 2908692305, 206859878],
      [2226919815, 2888562477, 3533731401, 3617579323, 2899526011, 598131006],
      [2300869303, 3000730610, 3023085467, 2388942551, 3833588335, 2252133130],
      [2158855931, 2764974925, 926252913, 459839939, 2941685582, 4041038389],
      [3249740072, 2267757853, 647638301, 2286129636, 3462131573, 734436449],
      [2273379674, 3699248333, 3460610821, 220429492, 6882340, 3604782006],
      [326469039, 867310660, 3514755719, 1987634704, 982794857, 3329489589],
      [982794857, 3845632566, 3748236841, 3329489589, 326469039, 1987634704],
      [679576390, 3165419639, 4109463685, 2127226748, 4159539153, 2703112745],
      [2226919815, 2888562477, 3533731401, 3617579323, 2899526011, 598131006],
      [2226919815, 2888562477, 3533731401, 3617579323, 2899526011, 598131006],
      [1661926437, 3738253840, 1848596470, 3359904361, 157138557, 3177596268],
      [808978263, 1994545038, 1444578056, 1901097927, 3194438857, 2550051340],
    ]);
    // The augmentation's stream (augment seeds its Rng with stream 0x5eed).
    const augmentStream = (s: number) => {
      const rng = new Rng(s, 0x5eed);
      return [rng.nextUint32(), rng.nextUint32()];
    };
    expect([1, 70, 1000, -3].map(augmentStream)).toEqual([
      [3319691992, 2283703997],
      [3436443736, 3970809345],
      [2637959452, 3021229050],
      [1533980305, 3545375630],
    ]);
  });

  it('matches the frozen hash for any seed in [−2⁶³, 2⁶³) and any index below 2³² (fast-check)', () => {
    const seed = fc.oneof(
      fc.integer(),
      fc.maxSafeInteger(),
      fc.double({ min: -(2 ** 63), max: 2 ** 63, maxExcluded: true, noNaN: true }),
    );
    const index = fc.integer({ min: 0, max: 2 ** 32 - 1 });
    fc.assert(
      fc.property(seed, index, (s, i) => sampleSeed(s, i) === frozenSampleSeed(s, i)),
      { numRuns: 2000 },
    );
  });
});

describe('per-sample seeds are 32-bit, as documented', () => {
  it('so distinct indices (of one seed or of two) can render the same sample, bit for bit', () => {
    const sample = (seed: number, index: number) => [...syntheticHands({ seed, start: index, count: 1, size: 16 })][0];
    for (const [[s1, i1], [s2, i2]] of [
      [
        [0, 82240],
        [0, 85454],
      ],
      [
        [0, 32899],
        [1, 68169],
      ],
    ]) {
      expect(sampleSeed(s1, i1)).toBe(sampleSeed(s2, i2));
      const a = sample(s1, i1);
      const b = sample(s2, i2);
      expect([a.image, a.uv, a.xyz, a.visible]).toEqual([b.image, b.uv, b.xyz, b.visible]);
    }
    // The birthday bound: 300 000 indices of seed 0 hold about 300000² / 2³³ ≈ 10.5 repeated pairs.
    const seen = new Set<number>();
    let repeats = 0;
    for (let i = 0; i < 300_000; i++) {
      const s = sampleSeed(0, i);
      if (seen.has(s)) repeats++;
      seen.add(s);
    }
    expect(repeats).toBeGreaterThan(2);
    expect(repeats).toBeLessThan(25);
  });
});

describe('seeds and indices that the hash used to wrap', () => {
  it('give seeds from 2⁶³ up (2⁶⁴, 2⁷⁰, 1e300) samples of their own, not those of seed 0 or a negative seed', () => {
    const big = [2 ** 63, 2 ** 64, 2 ** 70, 1e300, -(2 ** 64), -(2 ** 70), 2 ** 64 - 2048];
    const small = [0, -(2 ** 63), -2048, 1, 5];
    const seeds = [...big, ...small].map((s) => sampleSeed(s, 0));
    expect(new Set(seeds).size).toBe(seeds.length);
    expect(imageOf(2 ** 64, 0, 32)).not.toEqual(imageOf(0, 0, 32));
  });

  it('give indices from 2³² up samples of their own, not those of index mod 2³²', () => {
    for (const [wide, low] of [
      [2 ** 32, 0],
      [2 ** 32 + 5, 5],
      [2 ** 40, 0],
      [2 ** 53 - 1, 2 ** 32 - 1],
    ]) {
      expect(sampleSeed(1, wide), `index ${wide}`).not.toBe(sampleSeed(1, low));
    }
    expect(imageOf(1, 2 ** 32, 32)).not.toEqual(imageOf(1, 0, 32));
  });

  it('refuse a range past Number.MAX_SAFE_INTEGER by name, instead of yielding nothing or one sample forever', () => {
    const max = Number.MAX_SAFE_INTEGER;
    expect(() => [...syntheticHands({ seed: 1, start: 2 ** 53, count: 1 })]).toThrow(
      'syntheticHands: start must be an integer in [0, 9007199254740991], but received 9007199254740992.',
    );
    expect(() => [...syntheticHands({ seed: 1, start: max - 1, count: 2 })]).toThrow(
      'syntheticHands: count must be an integer ≥ 0 with start + count ≤ Number.MAX_SAFE_INTEGER (at most 1 here), but received 2.',
    );
    expect([...syntheticHands({ seed: 1, start: max - 1, count: 1, size: 16 })]).toHaveLength(1);
    // Without a count the stream ends with a named error rather than repeating sample 2⁵³.
    const open = syntheticHands({ seed: 1, start: max, size: 16 });
    expect(open.next().done).toBe(false);
    expect(() => open.next()).toThrow(PhalanxConfigError);
    expect(() => sampleSeed(1, 2 ** 53)).toThrow(
      'sampleSeed: index must be at most Number.MAX_SAFE_INTEGER (9007199254740991), but received 9007199254740992.',
    );
  });
});
