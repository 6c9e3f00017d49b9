import { describe, expect, it } from 'vitest';
import { Rng } from '../random';
import { syntheticHands } from '../dataset';
import { PhalanxConfigError } from '@phalanx/errors';
import { SKELETON_EDGES, TIP_JOINTS } from '@phalanx/skeleton';
import { forwardKinematics, JOINT_LIMITS, meanHandShape, sampleHandShape } from './hand-model';
import { POSE_KINDS, samplePose } from './poses';
import { createCanvas } from './raster';
import {
  jointVisibility,
  projectPoints,
  renderSyntheticHand,
  tiltedRotation,
  type SyntheticHandOptions,
} from './render';

const dist = (p: Float64Array, a: number, b: number) =>
  Math.hypot(p[3 * a] - p[3 * b], p[3 * a + 1] - p[3 * b + 1], p[3 * a + 2] - p[3 * b + 2]);

describe('Rng', () => {
  it('is deterministic per seed and stream and stays in [0, 1)', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(42, 1);
    const xs = Array.from({ length: 1000 }, () => a.next());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b.next()));
    expect(xs.slice(0, 10)).not.toEqual(Array.from({ length: 10 }, () => c.next()));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
  });
});

describe('hand model and pose sampling', () => {
  it('keeps every bone length under any pose', () => {
    const rng = new Rng(1);
    for (let n = 0; n < 50; n++) {
      const shape = sampleHandShape(rng, n % 2 === 1);
      const rest = forwardKinematics(shape, new Float64Array(20));
      const posed = forwardKinematics(shape, samplePose(rng).angles);
      for (const [p, c] of SKELETON_EDGES) {
        expect(dist(posed, p, c)).toBeCloseTo(shape.boneLengths[c], 9);
        expect(dist(posed, p, c)).toBeCloseTo(dist(rest, p, c), 9);
      }
    }
  });

  it('samples angles within the joint limits for every pose kind', () => {
    const rng = new Rng(2);
    for (const kind of POSE_KINDS) {
      for (let n = 0; n < 100; n++) {
        const { angles } = samplePose(rng, kind);
        angles.forEach((a, i) => {
          expect(a).toBeGreaterThanOrEqual(JOINT_LIMITS[i][0]);
          expect(a).toBeLessThanOrEqual(JOINT_LIMITS[i][1]);
        });
      }
    }
  });

  it('bends fingers by the joint angles (geometry agrees with the angles)', () => {
    const shape = meanHandShape();
    const rng = new Rng(3);
    for (let n = 0; n < 30; n++) {
      const { angles } = samplePose(rng);
      const p = forwardKinematics(shape, angles);
      for (let f = 1; f < 5; f++) {
        const b = 1 + 4 * f;
        for (const k of [2, 3]) {
          // angle between consecutive bones = |flexion| of the joint between them
          const u = [0, 1, 2].map((c) => p[3 * (b + k - 1) + c] - p[3 * (b + k - 2) + c]);
          const v = [0, 1, 2].map((c) => p[3 * (b + k) + c] - p[3 * (b + k - 1) + c]);
          const cos = (u[0] * v[0] + u[1] * v[1] + u[2] * v[2]) / (Math.hypot(...u) * Math.hypot(...v));
          expect(Math.acos(Math.min(1, cos))).toBeCloseTo(Math.abs(angles[4 * f + k]), 6);
        }
      }
    }
  });

  it('curls fingertips towards the palm (+z) when flexed', () => {
    const shape = meanHandShape();
    const flat = forwardKinematics(shape, new Float64Array(20));
    const bent = new Float64Array(20);
    for (let f = 1; f < 5; f++) bent.set([0, 1.2, 1.5, 1.0], 4 * f);
    const fist = forwardKinematics(shape, bent);
    for (const t of TIP_JOINTS.slice(1)) {
      expect(fist[3 * t + 2]).toBeGreaterThan(flat[3 * t + 2] + 20);
      expect(fist[3 * t + 1]).toBeLessThan(flat[3 * t + 1] - 40);
    }
  });
});

describe('renderSyntheticHand: images and labels', () => {
  it('is deterministic for a seed and differs between seeds', () => {
    const a = renderSyntheticHand(5, { size: 64 });
    const b = renderSyntheticHand(5, { size: 64 });
    const c = renderSyntheticHand(6, { size: 64 });
    expect(a.image).toEqual(b.image);
    expect(a.uv).toEqual(b.uv);
    expect(a.visible).toEqual(b.visible);
    expect(a.image).not.toEqual(c.image);
  });

  it('returns labels of the right sizes and ranges, with uv = project(xyz, K) exactly', () => {
    for (let seed = 0; seed < 40; seed++) {
      const s = renderSyntheticHand(seed, { size: 96 });
      expect(s.image).toBeInstanceOf(Uint8Array);
      expect(s.image.length).toBe(96 * 96 * 3);
      expect([s.uv.length, s.xyz.length, s.K.length, s.visible.length]).toEqual([42, 63, 9, 21]);
      const uv = projectPoints(s.xyz, s.K);
      for (let i = 0; i < 42; i++) expect(Math.abs(uv[i] - s.uv[i])).toBeLessThan(1e-9);
      expect([s.K[1], s.K[3], s.K[6], s.K[7], s.K[8]]).toEqual([0, 0, 0, 0, 1]);
      for (let j = 0; j < 21; j++) expect(s.xyz[3 * j + 2]).toBeGreaterThan(50);
      // scale is the middle MCP–PIP bone (mm), a plausible adult value
      expect(s.scale).toBeCloseTo(dist(s.xyz, 9, 10), 9);
      expect(s.scale).toBeGreaterThan(35);
      expect(s.scale).toBeLessThan(56);
      expect(s.visible.every((v) => v === 0 || v === 1)).toBe(true);
      // a joint outside the image is never visible
      for (let j = 0; j < 21; j++) {
        const out = s.uv[2 * j] < -0.5 || s.uv[2 * j] > 95.5 || s.uv[2 * j + 1] < -0.5 || s.uv[2 * j + 1] > 95.5;
        if (out) expect(s.visible[j]).toBe(0);
      }
    }
  });

  it('produces float32 images in [0, 1] and any size', () => {
    const s = renderSyntheticHand(9, { width: 80, height: 48, format: 'float32' });
    expect(s.image).toBeInstanceOf(Float32Array);
    expect(s.image.length).toBe(80 * 48 * 3);
    expect(Math.min(...s.image)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...s.image)).toBeLessThanOrEqual(1);
    expect(Math.max(...s.image)).toBeGreaterThan(0.2);
  });

  it('keeps the hand in view: most joints inside the image', () => {
    let inside = 0;
    for (let seed = 0; seed < 40; seed++) {
      const s = renderSyntheticHand(seed, { size: 64 });
      for (let j = 0; j < 21; j++)
        if (s.uv[2 * j] >= 0 && s.uv[2 * j] <= 63 && s.uv[2 * j + 1] >= 0 && s.uv[2 * j + 1] <= 63) inside++;
    }
    expect(inside / (40 * 21)).toBeGreaterThan(0.97);
  });
});

describe('renderSyntheticHand: visibility and views', () => {
  it('flags occlusion sanely: fists hide some fingertips in some views, open hands hide fewer joints', () => {
    let fistTipsHidden = 0;
    let fistTipsShown = 0;
    let fistVisible = 0;
    let openVisible = 0;
    const n = 40;
    for (let seed = 0; seed < n; seed++) {
      const f = renderSyntheticHand(seed, { size: 96, poseKind: 'fist' });
      const o = renderSyntheticHand(seed, { size: 96, poseKind: 'open' });
      for (const t of TIP_JOINTS) {
        if (f.visible[t]) fistTipsShown++;
        else fistTipsHidden++;
      }
      fistVisible += f.visible.reduce((a, b) => a + b, 0);
      openVisible += o.visible.reduce((a, b) => a + b, 0);
    }
    expect(fistTipsHidden).toBeGreaterThan(n * 0.5);
    expect(fistTipsShown).toBeGreaterThan(n * 0.5);
    expect(openVisible).toBeGreaterThan(fistVisible);
  });

  it('hides the fingertips of a fist seen from the back and shows those of an open palm', () => {
    const D = Math.PI / 180;
    const fist = [
      0,
      40,
      45,
      60,
      ...[0, 85, 100, 60],
      ...[0, 85, 100, 60],
      ...[0, 85, 100, 60],
      ...[0, 85, 100, 60],
    ].map((a) => a * D);
    const palmToCamera = [1, 0, 0, 0, -1, 0, 0, 0, -1];
    const backToCamera = [-1, 0, 0, 0, -1, 0, 0, 0, 1];
    for (let seed = 0; seed < 5; seed++) {
      const back = renderSyntheticHand(seed, { size: 128, angles: fist, rotation: backToCamera });
      for (const t of [8, 12, 16, 20]) expect(back.visible[t], `fist tip ${t}`).toBe(0);
      expect(back.visible[0]).toBe(1);
      const open = renderSyntheticHand(seed, { size: 128, angles: new Array(20).fill(0), rotation: palmToCamera });
      for (const t of TIP_JOINTS) expect(open.visible[t], `open tip ${t}`).toBe(1);
    }
    expect(() => renderSyntheticHand(0, { angles: [0, 1] })).toThrow(
      'renderSyntheticHand: angles must be an array of 20 joint angles, but received 2.',
    );
  });

  it('maxTilt bounds the angle between the palm normal and the camera axis; both sides and all rolls occur', () => {
    const rng = new Rng(3);
    const maxTilt = (50 * Math.PI) / 180;
    let backs = 0;
    let rolls = 0;
    let largest = 0;
    for (let i = 0; i < 400; i++) {
      const R = tiltedRotation(rng, maxTilt);
      // A rotation: Rᵀ·R = I.
      for (let a = 0; a < 3; a++)
        for (let b = 0; b < 3; b++) {
          const dot = R[a] * R[b] + R[3 + a] * R[3 + b] + R[6 + a] * R[6 + b];
          expect(dot).toBeCloseTo(a === b ? 1 : 0, 10);
        }
      // Palm normal (hand +z) in the camera frame: the third column; |cos| of its angle to the camera axis.
      const tilt = Math.acos(Math.min(1, Math.abs(R[8])));
      largest = Math.max(largest, tilt);
      expect(tilt).toBeLessThanOrEqual(maxTilt + 1e-9);
      if (R[8] > 0) backs++;
      // Fingers (hand +y) point into each image quadrant over the draws.
      if (R[1] > 0 && R[4] > 0) rolls++;
    }
    expect(largest).toBeGreaterThan(0.9 * maxTilt);
    expect(backs).toBeGreaterThan(150);
    expect(backs).toBeLessThan(250);
    expect(rolls).toBeGreaterThan(60);
    // Renders: the option changes the view only when given, and is checked.
    const plain = renderSyntheticHand(11, { size: 32 });
    expect(renderSyntheticHand(11, { size: 32, maxTilt: undefined }).uv).toEqual(plain.uv);
    // maxTilt 0: a flat open hand faces the camera (palm or back) and shows every fingertip.
    for (let seed = 0; seed < 5; seed++) {
      const flat = renderSyntheticHand(seed, { size: 128, maxTilt: 0, angles: new Array(20).fill(0) });
      for (const t of TIP_JOINTS) expect(flat.visible[t], `tip ${t}`).toBe(1);
    }
    expect(() => renderSyntheticHand(0, { maxTilt: 2 })).toThrow('renderSyntheticHand: maxTilt must be');
  });

  it('jointVisibility compares the z-buffer with the joint surface and the frame', () => {
    const canvas = createCanvas(20, 20);
    canvas.depth.fill(500); // a surface at 500 mm everywhere
    const uv = new Float64Array(42);
    const xyz = new Float64Array(63);
    const radii = new Float64Array(21).fill(8);
    for (let j = 0; j < 21; j++) {
      uv.set([10, 10], 2 * j);
      xyz[3 * j + 2] = 500 + j * 2; // joint j lies 2j mm behind the surface
    }
    uv.set([25, 10], 2 * 20); // out of frame
    const vis = jointVisibility(canvas, uv, xyz, radii);
    // visible while 2j ≤ 1.5·8 + 3 = 15
    for (let j = 0; j < 20; j++) expect(vis[j]).toBe(2 * j <= 15 ? 1 : 0);
    expect(vis[20]).toBe(0);
  });
});

describe('renderSyntheticHand: errors', () => {
  it('rejects bad sizes with a named error', () => {
    expect(() => renderSyntheticHand(0, { size: 8 })).toThrow(
      'renderSyntheticHand: width must be an integer ≥ 16, but received 8.',
    );
    expect(() => renderSyntheticHand(0, { width: 32.5, height: 32 })).toThrow(
      'renderSyntheticHand: width must be an integer ≥ 16, but received 32.5.',
    );
  });

  it('names a misspelt option instead of drawing with the default', () => {
    expect(() => renderSyntheticHand(0, { sise: 64 } as never)).toThrow(
      'renderSyntheticHand: options.sise must be an option (one of size, width, height, format, poseKind, ' +
        'background, handedness, angles, rotation, handExtent, maxTilt), but received 64.',
    );
    expect(() => renderSyntheticHand(0, null as never)).toThrow(
      'renderSyntheticHand: options must be an options object, but received null.',
    );
    expect(() => syntheticHands({ seed: 1, count: 1, strat: 4 } as never).next()).toThrow(
      /^syntheticHands: options.strat must be an option \(one of seed, count, start, size, .*, maxTilt\), but received 4\.$/,
    );
    expect(() => syntheticHands(undefined as never).next()).toThrow(PhalanxConfigError);
  });

  it('createCanvas refuses sizes that are not integers ≥ 1 or over 4096 × 4096 pixels, by name', () => {
    expect(createCanvas(1, 1).color).toHaveLength(3);
    for (const [w, h, message] of [
      [-1, 5, 'createCanvas: width must be an integer ≥ 1, but received -1.'],
      [5, 2.5, 'createCanvas: height must be an integer ≥ 1, but received 2.5.'],
      [
        100_000,
        100_000,
        'createCanvas: width × height must be at most 16777216 pixels (4096 × 4096), but received 10000000000.',
      ],
    ] as const) {
      expect(() => createCanvas(w, h)).toThrow(PhalanxConfigError);
      expect(() => createCanvas(w, h)).toThrow(message);
    }
  });

  it('refuses sizes over 4096 × 4096 pixels and a seed that is not finite, before allocating', () => {
    // 100 000² pixels was a RangeError from the canvas; 20 000² would have allocated 6.4 GB first.
    for (const [width, height] of [
      [100_000, 100_000],
      [20_000, 20_000],
      [4097, 4096],
      [16, 1_100_000],
    ]) {
      expect(() => renderSyntheticHand(0, { width, height })).toThrow(PhalanxConfigError);
      expect(() => renderSyntheticHand(0, { width, height })).toThrow(
        `renderSyntheticHand: width × height must be at most 16777216 pixels (4096 × 4096), but received ${width * height}.`,
      );
    }
    for (const seed of [NaN, Infinity, '3']) {
      expect(() => renderSyntheticHand(seed as number, { size: 16 })).toThrow(
        /^renderSyntheticHand: seed must be a finite number, but received/,
      );
    }
  });

  it('refuses non-finite angles, improper rotations, bad hand extents and unknown enumerations by name', () => {
    const reject = (options: Record<string, unknown>, message: string | RegExp) => {
      const render = () => renderSyntheticHand(0, { size: 16, ...(options as SyntheticHandOptions) });
      expect(render).toThrow(PhalanxConfigError);
      expect(render).toThrow(message);
    };
    const angles = new Array<number>(20).fill(0.1);
    angles[7] = NaN;
    reject({ angles }, 'renderSyntheticHand: angles must be an array of 20 finite joint angles, but received NaN.');
    reject({ angles: new Array(20).fill('0.1') }, /angles must be an array of 20 finite joint angles/);
    reject({ rotation: new Array(9).fill(NaN) }, /rotation must be a 3×3 row-major matrix \(9 numbers\) of finite/);
    const improper = /^renderSyntheticHand: rotation must be a rotation matrix \(RᵀR = I and det R = \+1 within 1e-4/;
    reject({ rotation: new Array(9).fill(0) }, improper);
    reject({ rotation: [100, 0, 0, 0, 100, 0, 0, 0, 100] }, improper);
    reject({ rotation: [1, 1e-3, 0, 0, 1, 0, 0, 0, 1] }, improper);
    // A reflection would mirror the hand behind the labels' back (meta.left); handedness does that.
    reject({ rotation: [-1, 0, 0, 0, 1, 0, 0, 0, 1] }, improper);
    reject({ rotation: [1, 0, 0, 0, -1, 0, 0, 0, 1] }, improper);
    const extent = 'must be a pair [min, max] of finite fractions with 0 < min ≤ max';
    reject({ handExtent: [NaN, NaN] }, `renderSyntheticHand: handExtent ${extent}, but received [NaN, NaN].`);
    reject({ handExtent: [0, 0] }, `handExtent ${extent}, but received [0, 0].`);
    reject({ handExtent: [-1, -1] }, `handExtent ${extent}`);
    reject({ handExtent: [0.9, 0.45] }, `handExtent ${extent}, but received [0.9, 0.45].`);
    reject({ handExtent: [0.5, Infinity] }, `handExtent ${extent}`);
    reject({ handExtent: 'big' }, `handExtent ${extent}, but received 'big'.`);
    reject({ format: 'rgba' }, "renderSyntheticHand: format must be one of 'uint8', 'float32', but received 'rgba'.");
    reject({ handedness: 'both' }, "handedness must be one of 'right', 'left', 'random', but received 'both'.");
    reject({ poseKind: 'jazzhands' }, /^renderSyntheticHand: poseKind must be one of 'open', .*'jazzhands'\.$/);
    reject({ background: 'plaid' }, /^renderSyntheticHand: background must be one of 'gradient', .*'plaid'\.$/);
    // Still accepted: proper rotations within the tolerance, out-of-limit (clamped) angles, a degenerate range.
    const c = Math.cos(0.3);
    const s = Math.sin(0.3);
    const nearly = [c, -s, 0, s, c, 0, 0, 0, 1].map((v) => v + 1e-6);
    expect(() => renderSyntheticHand(0, { size: 16, rotation: nearly })).not.toThrow();
    expect(() => renderSyntheticHand(0, { size: 16, angles: new Array(20).fill(1e9) })).not.toThrow();
    expect(() => renderSyntheticHand(0, { size: 16, handExtent: [0.5, 0.5] })).not.toThrow();
  });
});
