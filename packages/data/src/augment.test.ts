import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { AUGMENT_RANGES, augment, colorMatrix, MAX_WARP_PIXELS, similarityMatrix, warpSample } from './augment';
import { Rng } from './random';
import { projectPoints, renderSyntheticHand } from './synthetic/render';
import type { HandSample } from './types';

const maxReprojection = (s: HandSample) => {
  const uv = projectPoints(s.xyz, s.K);
  let m = 0;
  for (let i = 0; i < uv.length; i++) m = Math.max(m, Math.abs(uv[i] - s.uv[i]));
  return m;
};

describe('augment: geometry and colour', () => {
  it('moves uv, xyz and K consistently: xyz re-projects onto the new uv (camera roll)', () => {
    for (let seed = 0; seed < 20; seed++) {
      const s = renderSyntheticHand(seed, { size: 96 });
      const a = augment(s, { seed, outputSize: 64, rotation: 180 });
      expect(maxReprojection(a)).toBeLessThan(1e-9);
      // the camera roll keeps K a zero-skew pinhole matrix (fx = fy here) and keeps depth
      expect(Math.abs(a.K[1])).toBeLessThan(1e-9);
      expect(Math.abs(a.K[3])).toBeLessThan(1e-9);
      expect(a.K[0]).toBeCloseTo(a.K[4], 9);
      for (let j = 0; j < 21; j++) expect(a.xyz[3 * j + 2]).toBe(s.xyz[3 * j + 2]);
      // bone lengths (3D) are unchanged by a rotation of the camera
      const d = (p: Float64Array) => Math.hypot(p[27] - p[30], p[28] - p[31], p[29] - p[32]);
      expect(d(a.xyz)).toBeCloseTo(d(s.xyz), 9);
      expect(a.scale).toBe(s.scale);
    }
  });

  it('keeps xyz and folds the warp into K when rotateCamera is false', () => {
    const s = renderSyntheticHand(3, { size: 96 });
    const a = augment(s, { seed: 1, outputSize: 80, rotateCamera: false, rotation: 45 });
    expect(Array.from(a.xyz)).toEqual(Array.from(s.xyz));
    expect(maxReprojection(a)).toBeLessThan(1e-9);
  });

  it('crops to the hand: all keypoints inside the output with the margin', () => {
    for (let seed = 0; seed < 10; seed++) {
      const s = renderSyntheticHand(seed, { size: 128, handExtent: [0.3, 0.5] });
      const a = augment(s, { seed, outputSize: 64, rotation: 0, scale: [1, 1], translation: 0, margin: 0.2 });
      const us = Array.from({ length: 21 }, (_, j) => a.uv[2 * j]);
      const vs = Array.from({ length: 21 }, (_, j) => a.uv[2 * j + 1]);
      const span = Math.max(Math.max(...us) - Math.min(...us), Math.max(...vs) - Math.min(...vs));
      expect(span).toBeCloseTo(64 / 1.4, 6);
      expect(Math.min(...us, ...vs)).toBeGreaterThan(5);
      expect(Math.max(...us, ...vs)).toBeLessThan(58);
    }
  });

  it('moves image content with the keypoints', () => {
    // A single white pixel at a joint location lands where the warp sends that joint.
    const W = 40;
    const image = new Uint8Array(W * W * 3);
    const uv = new Float64Array(42).fill(0);
    uv.set([12, 25], 0);
    image.fill(255, 3 * (25 * W + 12), 3 * (25 * W + 12) + 3);
    const s: HandSample = {
      image,
      width: W,
      height: W,
      uv,
      xyz: new Float64Array(63).fill(1),
      K: Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]),
      scale: 1,
      visible: new Uint8Array(21).fill(1),
    };
    const A = similarityMatrix(12, 25, 2, Math.PI / 2, 30, 20);
    const out = warpSample(s, { A, theta: Math.PI / 2, outputWidth: 60, outputHeight: 50, rotateCamera: true });
    expect([out.uv[0], out.uv[1]]).toEqual([30, 20]);
    expect(out.image[3 * (20 * 60 + 30)]).toBe(255);
    expect(out.image[3 * (20 * 60 + 33)]).toBe(0);
    expect(out.visible[0]).toBe(1);
  });

  it('moves a one-pixel dot with its keypoint for non-square inputs, any output size and both camera modes', () => {
    const rng = new Rng(31);
    let checked = 0;
    for (let t = 0; t < 400; t++) {
      const [W, H] = [rng.int(16, 110), rng.int(16, 110)];
      const float = rng.chance(0.5);
      const image = float ? new Float32Array(W * H * 3) : new Uint8Array(W * H * 3);
      const [px, py] = [rng.int(0, W - 1), rng.int(0, H - 1)];
      image.fill(float ? 1 : 255, 3 * (py * W + px), 3 * (py * W + px) + 3);
      const f = rng.uniform(100, 400);
      const K = Float64Array.from([f, 0, W / 2, 0, f, H / 2, 0, 0, 1]);
      const uv = Float64Array.from({ length: 42 }, (_, k) => (k === 0 ? px : k === 1 ? py : rng.next() * (W - 1)));
      const xyz = new Float64Array(63);
      for (let j = 0; j < 21; j++) {
        const z = rng.uniform(300, 400);
        xyz.set([((uv[2 * j] - K[2]) * z) / f, ((uv[2 * j + 1] - K[5]) * z) / f, z], 3 * j);
      }
      const s: HandSample = { image, width: W, height: H, uv, xyz, K, scale: 10, visible: new Uint8Array(21).fill(1) };
      const size = rng.int(16, 75);
      const still = { brightness: 0, contrast: 0, saturation: 0, hue: 0 };
      const options = { outputSize: size, scale: [1.2, 3] as [number, number], margin: 0, color: still };
      const a = augment(s, { ...options, seed: t, rotateCamera: rng.chance(0.5), crop: rng.chance(0.7) });
      expect(maxReprojection(a)).toBeLessThan(1e-9);
      const [u, v] = [Math.round(a.uv[0]), Math.round(a.uv[1])];
      // A zoom below 1 may step over the dot; from 1 up, every output pixel is within a source pixel of it.
      if (u < 0 || v < 0 || u >= size || v >= size || Math.hypot(a.K[0], a.K[3]) < f) continue;
      let brightest = 0;
      for (let i = 1; i < size * size; i++) if (a.image[3 * i] > a.image[3 * brightest]) brightest = i;
      const label = `${W}×${H} → ${size}, try ${t}`;
      expect(a.image[3 * (v * size + u)], label).toBeGreaterThan(0);
      expect(Math.hypot((brightest % size) - a.uv[0], Math.floor(brightest / size) - a.uv[1]), label).toBeLessThan(1.5);
      checked++;
    }
    expect(checked).toBeGreaterThan(40);
  });

  it('marks joints leaving the image invisible', () => {
    const s = renderSyntheticHand(4, { size: 64 });
    const a = augment(s, { seed: 2, outputSize: 32, scale: [3, 3], rotation: 0, translation: 0 });
    for (let j = 0; j < 21; j++) {
      const inside = a.uv[2 * j] >= -0.5 && a.uv[2 * j] <= 31.5 && a.uv[2 * j + 1] >= -0.5 && a.uv[2 * j + 1] <= 31.5;
      if (!inside) expect(a.visible[j]).toBe(0);
      else expect(a.visible[j]).toBe(s.visible[j]);
    }
    expect(a.visible.reduce((x, y) => x + y, 0)).toBeLessThan(s.visible.reduce((x, y) => x + y, 0));
  });

  it('is deterministic for a seed; colour jitter of zero strength with an identity warp is the identity', () => {
    const s = renderSyntheticHand(8, { size: 48, format: 'float32' });
    expect(augment(s, { seed: 5, outputSize: 32 }).image).toEqual(augment(s, { seed: 5, outputSize: 32 }).image);
    expect(augment(s, { seed: 5, outputSize: 32 }).image).not.toEqual(augment(s, { seed: 6, outputSize: 32 }).image);
    const same = warpSample(s, {
      A: Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]),
      theta: 0,
      outputWidth: 48,
      outputHeight: 48,
      rotateCamera: true,
      colorMatrix: colorMatrix(0, 1),
      contrast: 1,
      brightness: 1,
    });
    for (let i = 0; i < s.image.length; i++) expect(same.image[i]).toBeCloseTo(s.image[i], 5);
    // a hue rotation keeps grey grey and changes colours
    const M = colorMatrix(0.25, 1);
    const grey = [0, 1, 2].map((r) => M[3 * r] * 0.5 + M[3 * r + 1] * 0.5 + M[3 * r + 2] * 0.5);
    for (const g of grey) expect(g).toBeCloseTo(0.5, 2);
    expect(M[0]).not.toBeCloseTo(1, 1);
  });
});

describe('augment: validation', () => {
  it('rejects bad options with named errors', () => {
    const s = renderSyntheticHand(1, { size: 32 });
    expect(() => augment(s, { seed: 0, outputSize: 4 })).toThrow(
      'augment: outputSize must be an integer ≥ 16, but received 4.',
    );
    expect(() => augment(s, { seed: 0, scale: [0, 1] })).toThrow(
      'augment: scale must be a range [min, max] with 0.01 ≤ min ≤ max ≤ 100, but received [0,1].',
    );
  });

  it('refuses options that would make NaN keypoints or a huge image, and a sample whose uv is not finite', () => {
    const s = renderSyntheticHand(1, { size: 32 });
    const cases: [Parameters<typeof augment>[1], string][] = [
      [{ seed: NaN }, 'augment: seed must be a finite number, but received NaN.'],
      [
        { seed: 0, rotation: Infinity },
        'augment: rotation must be a number in [0, 180] (degrees), but received Infinity.',
      ],
      [{ seed: 0, rotation: NaN }, 'augment: rotation must be a number in [0, 180] (degrees), but received NaN.'],
      [{ seed: 0, translation: NaN }, 'augment: translation must be a number in [0, 1], but received NaN.'],
      [{ seed: 0, margin: Infinity }, 'augment: margin must be a number in [0, 10], but received Infinity.'],
      [{ seed: 0, color: { hue: NaN } }, 'augment: color.hue must be a number in [0, 0.5] (turns), but received NaN.'],
      [
        { seed: 0, color: { contrast: -Infinity } },
        'augment: color.contrast must be a number in [0, 1], but received -Infinity.',
      ],
      [{ seed: 0, outputSize: 1e6 }, 'augment: outputSize must be an integer in [16, 4096], but received 1000000.'],
      [
        { seed: 0, scale: [1, Infinity] },
        'augment: scale must be a range [min, max] with 0.01 ≤ min ≤ max ≤ 100, but received [1,null].',
      ],
    ];
    for (const [options, message] of cases) {
      expect(() => augment(s, options), message).toThrow(PhalanxConfigError);
      expect(() => augment(s, options)).toThrow(message);
    }
    const hidden = { ...s, uv: s.uv.map((v, i) => (i === 5 ? NaN : v)) };
    expect(() => augment(hidden, { seed: 0 })).toThrow(
      'augment: sample.uv must be finite pixel coordinates (crop: true frames them), but received NaN.',
    );
    // Without the crop the keypoints frame nothing: a NaN stays the sample's own.
    expect(augment(hidden, { seed: 0, crop: false }).uv[5]).toBeNaN();
  });

  it('refuses extreme but finite options by name instead of returning non-finite labels', () => {
    const s = renderSyntheticHand(2, { size: 32 });
    const cases: [Parameters<typeof augment>[1], string][] = [
      [{ seed: 1, scale: [1, 1e308] }, 'augment: scale must be a range [min, max] with 0.01 ≤ min ≤ max ≤ 100'],
      [{ seed: 1, scale: [1e-300, 1e-300] }, 'augment: scale must be a range [min, max] with 0.01 ≤ min ≤ max ≤ 100'],
      [{ seed: 1, rotation: 1e308 }, 'augment: rotation must be a number in [0, 180] (degrees), but received 1e+308.'],
      [{ seed: 1, translation: 1e308 }, 'augment: translation must be a number in [0, 1], but received 1e+308.'],
      [{ seed: 1, margin: 1e308 }, 'augment: margin must be a number in [0, 10], but received 1e+308.'],
      [{ seed: 1, color: { saturation: 1e308 } }, 'augment: color.saturation must be a number in [0, 1]'],
      [{ seed: 1, color: { brightness: 5 } }, 'augment: color.brightness must be a number in [0, 1], but received 5.'],
      [null as never, 'augment: options must be an object {seed, …}, but received null.'],
    ];
    for (const [options, message] of cases) {
      expect(() => augment(s, { outputSize: 16, ...options }), message).toThrow(PhalanxConfigError);
      expect(() => augment(s, options === null ? options : { outputSize: 16, ...options })).toThrow(message);
    }
  });

  it('gives finite uv, xyz and K for any finite options within AUGMENT_RANGES (property)', () => {
    const s = renderSyntheticHand(3, { size: 32 });
    const within = ([lo, hi]: readonly [number, number]) => fc.double({ min: lo, max: hi, noNaN: true });
    const options = fc.record({
      seed: fc.integer(),
      margin: within(AUGMENT_RANGES.margin),
      zoom: fc.tuple(within(AUGMENT_RANGES.scale), within(AUGMENT_RANGES.scale)),
      rotation: within(AUGMENT_RANGES.rotation),
      translation: within(AUGMENT_RANGES.translation),
      crop: fc.boolean(),
      rotateCamera: fc.boolean(),
    });
    fc.assert(
      fc.property(options, ({ zoom, ...o }) => {
        const scale: [number, number] = [Math.min(...zoom), Math.max(...zoom)];
        const a = augment(s, { ...o, scale, outputSize: 16, color: { brightness: 1, contrast: 1, saturation: 1 } });
        for (const field of ['uv', 'xyz', 'K'] as const) expect(Array.from(a[field]).every(Number.isFinite)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('warpSample: refuses an output size that is not an integer ≥ 1 or over MAX_WARP_PIXELS before allocating', () => {
    const s = renderSyntheticHand(2, { size: 32 });
    const eye = Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    const warp = (outputWidth: number, outputHeight: number) =>
      warpSample(s, { A: eye, theta: 0, outputWidth, outputHeight, rotateCamera: true });
    expect(MAX_WARP_PIXELS).toBe(4096 * 4096);
    expect(() => warp(1e5, 1e5)).toThrow(
      'warpSample: outputWidth × outputHeight must be at most 16777216 pixels (4096 × 4096), but received',
    );
    expect(() => warp(4097, 4096)).toThrow(PhalanxConfigError);
    expect(() => warp(-1, 4)).toThrow('warpSample: outputWidth must be an integer ≥ 1, but received -1.');
    expect(() => warp(2.5, 4)).toThrow('warpSample: outputWidth must be an integer ≥ 1, but received 2.5.');
    expect(() => warp(4, NaN)).toThrow('warpSample: outputHeight must be an integer ≥ 1, but received NaN.');
    expect(() => warp(4, Infinity)).toThrow(PhalanxConfigError);
    expect(warp(4096, 1).image).toHaveLength(4096 * 3);
    fc.assert(
      fc.property(fc.oneof(fc.double(), fc.integer({ min: -10, max: 0 })), (w) => {
        if (Number.isInteger(w) && w >= 1 && w <= MAX_WARP_PIXELS / 4) return;
        expect(() => warp(w, 4)).toThrow(PhalanxConfigError);
      }),
    );
  });

  it('warpSample: refuses a singular or non-finite A, and a warp that overflows a finite label, by name', () => {
    const s = renderSyntheticHand(2, { size: 32 });
    const p = { theta: 0, outputWidth: 4, outputHeight: 4, rotateCamera: true };
    expect(() => warpSample(s, { ...p, A: new Float64Array(9) })).toThrow(
      'warpSample: A must be an invertible affine 3×3 of finite numbers (last row 0 0 1)',
    );
    expect(() => warpSample(s, { ...p, A: Float64Array.from([1, 0, 0, 0, NaN, 0, 0, 0, 1]) })).toThrow(
      PhalanxConfigError,
    );
    expect(() => warpSample(s, { ...p, theta: NaN, A: Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]) })).toThrow(
      'warpSample: theta must be a finite number, but received NaN.',
    );
    const huge = Float64Array.from([1e300, 0, 0, 0, 1e300, 0, 0, 0, 1]);
    expect(() => warpSample({ ...s, uv: s.uv.map((v) => v * 1e10) }, { ...p, A: huge })).toThrow(
      'warpSample: sample.uv must be values that stay finite under the warp (it overflowed them)',
    );
  });

  it('refuses a sample whose image does not hold width × height × 3 values, or of width 0, by name', () => {
    const s = renderSyntheticHand(2, { size: 32 });
    const short = { ...s, image: new Uint8Array(10) };
    expect(() => augment(short, { seed: 1, outputSize: 16 })).toThrow(PhalanxShapeError);
    expect(() => augment(short, { seed: 1, outputSize: 16 })).toThrow(
      'augment: sample.image must be 32 × 32 × 3 = 3072 values (Uint8Array or Float32Array), but received 10.',
    );
    const empty = { ...s, width: 0, height: 0 };
    expect(() => augment(empty, { seed: 1, outputSize: 16, crop: false })).toThrow(
      'augment: sample.width × height must be integers ≥ 1, but received [0, 0].',
    );
    expect(() => augment({ ...s, uv: s.uv.subarray(0, 40) }, { seed: 1, outputSize: 16 })).toThrow(
      'augment: sample.uv must be 42 values (21 joints × (u, v)), but received 40.',
    );
  });
});

describe('augment: option keys', () => {
  it('refuses a misspelt option, a misspelt colour strength and arrays, by name', () => {
    const s = renderSyntheticHand(1, { size: 32 });
    const cases: [() => unknown, string][] = [
      [() => augment(s, { seed: 0, rotate: 90 } as never), 'augment: options.rotate must be an option (one of seed,'],
      [() => augment(s, { seed: 0, color: { brigthness: 1 } } as never), 'augment: color.brigthness must be an option'],
      [() => augment(s, [] as never), 'augment: options must be an object {seed, …}, but received [].'],
      [() => augment(s, { seed: 0, color: [0.1] } as never), 'augment: color must be an object'],
    ];
    for (const [f, message] of cases) {
      expect(f).toThrow(PhalanxConfigError);
      expect(f).toThrow(message);
    }
  });
});
