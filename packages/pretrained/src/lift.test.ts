import { describe, expect, it } from 'vitest';
import { PhalanxConfigError } from '@phalanx/errors';
import { meanHandShape, syntheticHands } from '@phalanx/data';
import { JOINT_PARENTS, SKELETON_EDGES } from '@phalanx/skeleton';
import { liftToMetres } from './lift';
import { MEAN_HAND_BONE_METRES, MEAN_HAND_BONES } from './mean-hand';

describe('MEAN_HAND_BONE_METRES', () => {
  it("is the synthetic renderer's mean hand (meanHandShape of @phalanx/data), in metres", () => {
    const mm = meanHandShape().boneLengths;
    for (let j = 1; j < 21; j++) expect(MEAN_HAND_BONE_METRES[j]).toBeCloseTo(mm[j] / 1000, 12);
    expect(MEAN_HAND_BONES.map(([p, c]) => [p, c])).toEqual(SKELETON_EDGES.map(([p, c]) => [p, c]));
    expect(MEAN_HAND_BONES.every(([p, c]) => JOINT_PARENTS[c] === p)).toBe(true);
  });
});

describe('liftToMetres', () => {
  it('recovers synthetic hands (true 2D, true relative depth) to within the hand-size spread', () => {
    const error = { meanHand: 0, ownHand: 0 };
    let count = 0;
    for (const s of syntheticHands({ seed: 33, size: 128, count: 40 })) {
      const uv = Array.from({ length: 21 }, (_, j) => [s.uv[2 * j], s.uv[2 * j + 1]]);
      const xyz = Array.from({ length: 21 }, (_, j) => [0, 1, 2].map((c) => s.xyz[3 * j + c] / 1000));
      const own = MEAN_HAND_BONES.map(
        ([p, c]) => [p, c, Math.hypot(...[0, 1, 2].map((k) => xyz[c][k] - xyz[p][k]))] as const,
      );
      for (const [key, bones] of [
        ['meanHand', undefined],
        ['ownHand', own],
      ] as const) {
        const lifted = liftToMetres(
          uv,
          xyz.map((p) => p[2]),
          { bones },
        );
        expect(lifted[0]).toEqual([0, 0, 0]);
        lifted.forEach((p, j) => (error[key] += Math.hypot(...p.map((v, c) => v - (xyz[j][c] - xyz[0][c]))) / 21));
      }
      count++;
    }
    // With the hand's own bone lengths only perspective is left out (≈ 5.6 mm per joint); the mean hand's
    // size adds the 0.85–1.15× spread of the renderer's hands (≈ 10.5 mm in all).
    expect(error.ownHand / count).toBeLessThan(0.007);
    expect(error.meanHand / count).toBeLessThan(0.013);
  });

  it('gives the mean hand its own size, whatever the pixel scale', () => {
    // A flat mean hand in the image plane, drawn at 1000 px per metre and at 37 px per metre.
    const shape = meanHandShape();
    const flat: number[][] = [[0, 0]];
    for (let j = 1; j < 21; j++) {
      const p = flat[JOINT_PARENTS[j]];
      flat.push([p[0] + shape.boneLengths[j] / 1000, p[1]]); // every bone along +x
    }
    for (const pxPerMetre of [1000, 37]) {
      const lifted = liftToMetres(
        flat.map(([x, y]) => [x * pxPerMetre + 5, y * pxPerMetre + 9]),
        new Array(21).fill(0.4),
      );
      lifted.forEach((p, j) => {
        expect(p[0]).toBeCloseTo(flat[j][0], 9);
        expect(p[1]).toBeCloseTo(0, 9);
        expect(p[2]).toBe(0);
      });
    }
  });

  it('puts a collapsed prediction (every joint on one pixel) at the origin instead of dividing by zero', () => {
    const lifted = liftToMetres(
      new Array(21).fill([3, 4]),
      Array.from({ length: 21 }, (_, j) => j / 100),
    );
    expect(lifted.every((p) => Number.isFinite(p[0]) && p[0] === 0 && p[1] === 0)).toBe(true);
    expect(lifted[20][2]).toBeCloseTo(0.2, 12);
  });

  it('refuses uv and z of other lengths, a root or bone outside the joints, and non-finite input, by name', () => {
    const uv = Array.from({ length: 21 }, (_, j) => [j, 2 * j]);
    const z = new Array<number>(21).fill(0);
    const cases: [() => unknown, string][] = [
      [() => liftToMetres(null as never, z), 'liftToMetres: uv must be pixel coordinates [J][2], but received null.'],
      [() => liftToMetres(uv, 'z' as never), "liftToMetres: z must be a list of depths, but received 'z'."],
      [
        () => liftToMetres(uv, z, { bones: 5 as never }),
        'liftToMetres: bones must be a list of [parent, child, metres], but received 5.',
      ],
      [
        () => liftToMetres(uv.slice(0, 20), z),
        'liftToMetres: z must be 20 depths (one per joint of uv), but received 21.',
      ],
      [
        () => liftToMetres(uv, z, { rootJoint: 21 }),
        'liftToMetres: rootJoint must be an integer in [0, 20], but received 21.',
      ],
      [
        () => liftToMetres(uv, z, { rootJoint: -1 }),
        'liftToMetres: rootJoint must be an integer in [0, 20], but received -1.',
      ],
      [
        () => liftToMetres(uv, z, { bones: [[0, 25, 0.04]] }),
        'liftToMetres: bones must be [parent, child, metres] with joints in [0, 20] and finite metres > 0, but received [0, 25, 0.04].',
      ],
      [
        () =>
          liftToMetres(
            uv.map((p, j) => (j === 3 ? [NaN, 0] : p)),
            z,
          ),
        'liftToMetres: uv must be finite pixel coordinates [J][2], but received [NaN, 0].',
      ],
      [
        () =>
          liftToMetres(
            uv,
            z.map((d, j) => (j === 4 ? Infinity : d)),
          ),
        'liftToMetres: z must be finite depths, but received Infinity.',
      ],
    ];
    for (const [f, message] of cases) {
      expect(f, message).toThrow(PhalanxConfigError);
      expect(f).toThrow(message);
    }
  });
});

/** The lift as first written: the fit on the pixel coordinates as given. */
function unscaledLift(uv: number[][], z: number[]): number[][] {
  let [numerator, denominator] = [0, 0];
  for (const [p, c, length] of MEAN_HAND_BONES) {
    const a = (uv[c][0] - uv[p][0]) ** 2 + (uv[c][1] - uv[p][1]) ** 2;
    numerator += a * (length * length - (z[c] - z[p]) ** 2);
    denominator += a * a;
  }
  const m = denominator > 0 ? Math.sqrt(Math.max(numerator / denominator, 0)) : 0;
  return uv.map(([u, v], j) => [m * (u - uv[0][0]), m * (v - uv[0][1]), z[j] - z[0]]);
}

describe('liftToMetres: any finite coordinates, checked options', () => {
  const hands = [...syntheticHands({ seed: 41, size: 224, count: 20 })].map((s) => ({
    uv: Array.from({ length: 21 }, (_, j) => [s.uv[2 * j], s.uv[2 * j + 1]]),
    z: Array.from({ length: 21 }, (_, j) => s.xyz[3 * j + 2] / 1000),
  }));

  it('gives bit for bit what the unscaled formula gives for pixel coordinates', () => {
    for (const { uv, z } of hands) {
      expect(liftToMetres(uv, z)).toEqual(unscaledLift(uv, z));
      const far = uv.map(([u, v]) => [u * 3.7 - 900, v * 0.5 + 1e5]);
      expect(liftToMetres(far, z)).toEqual(unscaledLift(far, z));
    }
  });

  it('lifts coordinates of 1e300 and 1e-300 pixels as the same hand at 1 px (the squares no longer overflow)', () => {
    for (const { uv, z } of hands.slice(0, 5)) {
      const reference = liftToMetres(uv, z);
      for (const factor of [1e300, -1e300, 1e-300]) {
        const lifted = liftToMetres(
          uv.map(([u, v]) => [u * factor, v * factor]),
          z,
        );
        lifted.forEach((p, j) =>
          p.forEach((value, c) => expect(value).toBeCloseTo(reference[j][c] * Math.sign(factor) ** (c < 2 ? 1 : 0), 9)),
        );
      }
      // The unscaled formula gave NaN there.
      expect(
        unscaledLift(
          uv.map(([u, v]) => [u * 1e300, v * 1e300]),
          z,
        )[1][0],
      ).toBeNaN();
    }
  });

  it('refuses options that are not an object or have another key, and sizes that overflow, by name', () => {
    const { uv, z } = hands[0];
    const cases: [() => unknown, string][] = [
      [
        () => liftToMetres(uv, z, null as never),
        'liftToMetres: options must be an object {bones?, rootJoint?}, but received null.',
      ],
      [
        () => liftToMetres(uv, z, [] as never),
        'liftToMetres: options must be an object {bones?, rootJoint?}, but received [].',
      ],
      [
        () => liftToMetres(uv, z, { root: 9 } as never),
        'liftToMetres: options.root must be an option (one of bones, rootJoint), but received 9.',
      ],
      [
        () => liftToMetres(uv, z, { bones: [[0, 1, Infinity]] }),
        'liftToMetres: bones must be [parent, child, metres] with joints in [0, 20] and finite metres > 0, but received [0, 1, Infinity].',
      ],
      [
        () => liftToMetres(uv, z, { bones: [[0, 1, 1e160]] }),
        'liftToMetres: bones must be [parent, child, metres] with joints in [0, 20] and finite metres > 0, but received [0, 1, 1e+160].',
      ],
      [
        () =>
          liftToMetres(
            uv,
            z.map((d, j) => (j === 0 ? -1e308 : j === 5 ? 1e308 : d)),
          ),
        "liftToMetres: z must be depths whose differences from the root's (-1e+308) are finite, but received 1e+308.",
      ],
    ];
    for (const [f, message] of cases) {
      expect(f, message).toThrow(PhalanxConfigError);
      expect(f).toThrow(message);
    }
  });
});
