import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectClose, useBackend } from '@phalanx/testing';
import { PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import {
  computeHandCrop,
  cropAndResize,
  intrinsicsForCrop,
  lift3D,
  uvFromCrop,
  uvToCrop,
  type HandCrop,
} from './index';

beforeAll(() => useBackend('cpu'));

/** 21 keypoints spread over a box, joint 12 at `center`. */
function hand(xs: [number, number], ys: [number, number], center: [number, number]): number[][] {
  const uv = Array.from({ length: 21 }, (_, j) => [
    xs[0] + ((xs[1] - xs[0]) * (j % 5)) / 4,
    ys[0] + ((ys[1] - ys[0]) * (j % 3)) / 2,
  ]);
  uv[12] = center;
  return uv;
}

describe('computeHandCrop (the release RHD.py, no augmentation)', () => {
  it('centres a 1.2× square on the keypoint box', () => {
    // box x 100…140, y 150…170, centre (120, 160): side 1.2·max(2·20, 2·10) = 48 around the box centre.
    const crop = computeHandCrop(hand([100, 140], [150, 170], [120, 160]), null, { imageSize: 320 });
    expect(crop).toEqual({ x1: 96, y1: 136, size: 48, scale: 256 / 48, inputSize: 256 });
  });

  it('clips to the image margin and shifts the square inside', () => {
    // box x 280…315, y 20…60, centre (300, 40): side 48; x range clipped to 273.5…310, shifted by 11.
    const crop = computeHandCrop(hand([280, 315], [20, 60], [300, 40]), null, { imageSize: 320 });
    expect(crop).toEqual({ x1: 262, y1: 16, size: 48, scale: 256 / 48, inputSize: 256 });
  });

  it('uses only visible joints for the box (all when none is visible)', () => {
    const uv = hand([100, 140], [150, 170], [120, 160]);
    uv[0] = [10, 10]; // an invisible outlier
    const visible = uv.map((_, j) => (j === 0 ? 0 : 1));
    expect(computeHandCrop(uv, visible, { imageSize: 320 }).x1).toBe(96);
    expect(
      computeHandCrop(
        uv,
        uv.map(() => 0),
        { imageSize: 320 },
      ).x1,
    ).not.toBe(96);
    expect(() => computeHandCrop(uv, [1, 0], { imageSize: 320 })).toThrow(
      'computeHandCrop: visible must be an array of length 21, but received [2].',
    );
  });

  it('maps keypoints into the crop and back', () => {
    const uv = hand([100, 140], [150, 170], [120, 160]);
    const crop = computeHandCrop(uv, null, { imageSize: 320, inputSize: 128 });
    const inCrop = uvToCrop(uv, crop);
    expect(inCrop[12]).toEqual([(128 / 48) * 24, (128 / 48) * 24]);
    uvFromCrop(inCrop, crop).forEach((p, j) => {
      expect(p[0]).toBeCloseTo(uv[j][0], 9);
      expect(p[1]).toBeCloseTo(uv[j][1], 9);
    });
  });
});

describe('cropAndResize', () => {
  it('crops, resizes with half-pixel centres and scales to [0, 1]', () => {
    // value = 10·x; the 2-pixel crop [0, 10] enlarged to 4 samples at x = −0.25, 0.25, 0.75, 1.25 (clamped).
    const image = tf.tile(tf.reshape(tf.mul(tf.range(0, 4), 10), [1, 4, 1]), [4, 1, 3]) as tf.Tensor3D;
    const out = cropAndResize(image, { x1: 0, y1: 1, size: 2, scale: 2, inputSize: 4 });
    expect(out.shape).toEqual([4, 4, 3]);
    const row = [0, 2.5, 7.5, 10].map((v) => v / 255);
    const expected = tf.tile(tf.reshape(tf.tensor(row), [1, 4, 1]), [4, 1, 3]);
    expectClose(out, expected, { rtol: 1e-6, atol: 1e-6 }, 'resized');
    tf.dispose([image, out, expected]);
  });
});

describe('2.5D → 3D', () => {
  it('is the release P2W with the crop intrinsics', () => {
    const crop = { x1: 10, y1: 20, size: 100, scale: 2, inputSize: 200 };
    const K = intrinsicsForCrop(
      [
        [300, 0, 160],
        [0, 310, 150],
        [0, 0, 1],
      ],
      crop,
    );
    expect(K).toEqual([
      [600, 0, 300],
      [0, 620, 260],
      [0, 0, 1],
    ]);
    const uv = tf.tensor3d([
      [
        [400, 160],
        [300, 260],
      ],
    ]);
    const depth = tf.tensor2d([[0.5, -1]]);
    const xyz = lift3D(uv, depth, K, { rootDepth: 0.6, scale: 0.02 });
    const z0 = 0.5 * 0.02 + 0.6;
    const z1 = -0.02 + 0.6;
    expectClose(
      xyz,
      tf.tensor3d([
        [
          [(z0 * 100) / 600, (z0 * -100) / 620, z0],
          [0, 0, z1],
        ],
      ]),
      { rtol: 1e-6, atol: 1e-7 },
      'xyz',
    );
    tf.dispose([uv, depth, xyz]);
  });
});

describe('computeHandCrop / cropAndResize: hostile input', () => {
  const uv = Array.from({ length: 21 }, (_, j) => [140 + 3 * j, 150 + 2 * j]);
  const crop = computeHandCrop(uv, null, { imageSize: 320 });

  it('refuse non-finite joints, options and crops of the wrong type by name (no NaN crop, no TypeError)', () => {
    const image = tf.zeros([8, 8, 3]) as tf.Tensor3D;
    const hidden = new Array<number>(21).fill(1);
    hidden[3] = 0;
    const cases: [() => unknown, string][] = [
      [
        () =>
          computeHandCrop(
            uv.map((p, j) => (j === 3 ? [Number.NaN, 1] : p)),
            null,
            { imageSize: 320 },
          ),
        'computeHandCrop: uv must be finite coordinates',
      ],
      [
        () =>
          computeHandCrop(
            uv.map((p, j) => (j === 3 ? [Infinity, 1] : p)),
            null,
            { imageSize: 320 },
          ),
        'computeHandCrop: uv must be finite coordinates',
      ],
      [
        () =>
          computeHandCrop(
            uv.map((p, j) => (j === 12 ? [Number.NaN, 1] : p)),
            hidden,
            { imageSize: 320 },
          ),
        'computeHandCrop: uv must be finite coordinates',
      ],
      [
        () => computeHandCrop(uv, null, null as never),
        'computeHandCrop: options must be an object {imageSize, centerJoint?, inputSize?}, but received null.',
      ],
      [
        () => computeHandCrop(uv, null, [] as never),
        'computeHandCrop: options must be an object {imageSize, centerJoint?, inputSize?}, but received [].',
      ],
      [
        () => computeHandCrop(uv, null, { imageSize: 320, size: 256 } as never),
        'computeHandCrop: options.size must be an option (one of imageSize, centerJoint, inputSize)',
      ],
      [
        () => cropAndResize(image, null as never),
        'cropAndResize: crop must be a HandCrop {x1, y1, size, scale, inputSize}, but received null.',
      ],
      [
        () => cropAndResize(image, { ...crop, x1: Number.NaN }),
        'cropAndResize: crop.x1 must be a finite number, but received NaN.',
      ],
      [
        () => cropAndResize(image, { ...crop, inputSize: 0 }),
        'cropAndResize: crop.inputSize must be an integer ≥ 1, but received 0.',
      ],
    ];
    for (const [f, message] of cases) {
      const before = tf.memory().numTensors;
      expect(f, message).toThrow(PhalanxConfigError);
      expect(f).toThrow(message);
      expect(tf.memory().numTensors).toBe(before);
    }
    expect(() => cropAndResize(null as never, crop)).toThrow(PhalanxShapeError);
    expect(() => cropAndResize(null as never, crop)).toThrow(
      'cropAndResize: image must be a [H, W, 3] tensor, but received null.',
    );
    // A NaN joint that is not used (invisible, not the centre) does not matter.
    expect(
      computeHandCrop(
        uv.map((p, j) => (j === 3 ? [Number.NaN, 1] : p)),
        hidden,
        { imageSize: 320 },
      ),
    ).toEqual(computeHandCrop(uv, hidden, { imageSize: 320 }));
  });

  it('refuse a fractional crop window and an input side beyond the models by name (no tf error, no leak)', () => {
    const image = tf.zeros([40, 40, 3]) as tf.Tensor3D;
    const window: HandCrop = { x1: 2, y1: 3, size: 10, scale: 1, inputSize: 8 };
    const cases: [HandCrop, string][] = [
      [{ ...window, x1: 2.5 }, 'cropAndResize: crop.x1 must be an integer, but received 2.5.'],
      [{ ...window, y1: -0.5 }, 'cropAndResize: crop.y1 must be an integer, but received -0.5.'],
      [{ ...window, size: 10.5 }, 'cropAndResize: crop.size must be an integer ≥ 1, but received 10.5.'],
      [
        { ...window, inputSize: 1e6 },
        'cropAndResize: crop.inputSize must be an integer in [1, 4096], but received 1000000.',
      ],
    ];
    for (const [bad, message] of cases) {
      const before = tf.memory().numTensors;
      expect(() => cropAndResize(image, bad), message).toThrow(PhalanxConfigError);
      expect(() => cropAndResize(image, bad)).toThrow(message);
      expect(tf.memory().numTensors).toBe(before);
    }
    // Integer windows still work, a corner outside the image included (clamped, as numpy slices).
    const out = cropAndResize(image, { ...window, x1: -3, y1: 35 });
    expect(out.shape).toEqual([8, 8, 3]);
    tf.dispose([image, out]);
  });
});

describe('preprocess helpers: hostile arguments', () => {
  it('refuse visibility flags that are not 0 / 1 and a uv or depth that is not a tensor by name', () => {
    const uv = hand([100, 140], [150, 170], [120, 160]);
    const flags = (v: unknown) => uv.map((_, j) => (j === 3 ? v : 1)) as number[];
    // `true` or 2 counted as invisible before: with every flag so, the crop silently took all the joints.
    for (const [visible, shown] of [
      [flags(true), 'true at joint 3'],
      [flags(2), '2 at joint 3'],
      [flags(Number.NaN), 'NaN at joint 3'],
      [uv.map(() => true) as unknown as number[], 'true at joint 0'],
    ] as const) {
      expect(() => computeHandCrop(uv, visible, { imageSize: 320 }), shown).toThrow(PhalanxConfigError);
      expect(() => computeHandCrop(uv, visible, { imageSize: 320 })).toThrow(
        `computeHandCrop: visible must be 0 / 1 flags, but received '${shown}'.`,
      );
    }
    // 0 / 1 flags of any array type still work.
    expect(computeHandCrop(uv, Uint8Array.from(flags(0)), { imageSize: 320 })).toEqual(
      computeHandCrop(uv, flags(0), { imageSize: 320 }),
    );
    const K = [
      [600, 0, 32],
      [0, 620, 32],
      [0, 0, 1],
    ];
    const depth = tf.zeros([1, 2]);
    const uv3 = tf.zeros([1, 2, 2]);
    const before = tf.memory().numTensors;
    expect(() => lift3D(null as never, depth, K, { rootDepth: 0.6 })).toThrow(
      'lift3D: uv, depth must be [B, J, 2] and [B, J] tensors, but received [null, [1, 2]].',
    );
    expect(() => lift3D(uv3, [[0, 0]] as never, K, { rootDepth: 0.6 })).toThrow(PhalanxShapeError);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([depth, uv3]);
  });

  it('the crop mappings name a crop, keypoints or intrinsics they cannot use (no TypeError, no Infinity)', () => {
    const crop: HandCrop = { x1: 10, y1: 20, size: 100, scale: 2, inputSize: 200 };
    const uv = [
      [12, 30],
      [40, 50],
    ];
    const K = [
      [300, 0, 160],
      [0, 310, 150],
      [0, 0, 1],
    ];
    const cases: [() => unknown, string][] = [
      [
        () => uvToCrop(uv, null as never),
        'uvToCrop: crop must be a HandCrop {x1, y1, size, scale, inputSize}, but received null.',
      ],
      [
        () => uvFromCrop(uv, { ...crop, scale: 0 }),
        'uvFromCrop: crop.scale must be a finite number > 0, but received 0.',
      ],
      [
        () => uvFromCrop(uv, { ...crop, x1: Number.NaN }),
        'uvFromCrop: crop.x1 must be a finite number, but received NaN.',
      ],

      [
        () => intrinsicsForCrop(K, { ...crop, scale: -1 }),
        'intrinsicsForCrop: crop.scale must be a finite number > 0, but received -1.',
      ],
      [
        () => intrinsicsForCrop([[300, 0, 160]], crop),
        'intrinsicsForCrop: K must be a 3 × 3 matrix of finite numbers, but received [[300, 0, 160]].',
      ],
    ];
    for (const [run, message] of cases) {
      expect(run, message).toThrow(PhalanxConfigError);
      expect(run).toThrow(message);
    }
    expect(() => uvToCrop(null as never, crop)).toThrow(PhalanxShapeError);
    expect(() => uvToCrop(null as never, crop)).toThrow('uvToCrop: uv must be a [J, 2] array, but received null.');
    expect(() => uvFromCrop([[1, 2, 3]], crop)).toThrow(
      'uvFromCrop: uv must be a [J, 2] array, but received [[1, 2, 3]].',
    );
    expect(uvFromCrop(uvToCrop(uv, crop), crop)).toEqual(uv);
  });

  it('cropAndResize takes alreadyUnit as a boolean only', () => {
    const image = tf.fill([8, 8, 3], 255) as tf.Tensor3D;
    const crop: HandCrop = { x1: 0, y1: 0, size: 8, scale: 1, inputSize: 4 };
    // The string 'false' is truthy: the image was silently left in 0–255.
    for (const bad of ['false', 1, null]) {
      expect(() => cropAndResize(image, crop, bad as never)).toThrow(PhalanxConfigError);
      expect(() => cropAndResize(image, crop, bad as never)).toThrow(/^cropAndResize: alreadyUnit must be a boolean/);
    }
    const [unit, raw] = [cropAndResize(image, crop), cropAndResize(image, crop, true)];
    expect([tf.max(unit).dataSync()[0], tf.max(raw).dataSync()[0]]).toEqual([1, 255]);
    tf.dispose([image, unit, raw]);
  });

  it('computeHandCrop bounds inputSize as cropAndResize and the models do', () => {
    const uv = hand([100, 140], [150, 170], [120, 160]);
    expect(() => computeHandCrop(uv, null, { imageSize: 320, inputSize: 1e6 })).toThrow(
      'computeHandCrop: inputSize must be an integer in [1, 4096], but received 1000000.',
    );
    expect(computeHandCrop(uv, null, { imageSize: 320, inputSize: 4096 }).scale).toBeCloseTo(4096 / 48, 9);
    expect(() => computeHandCrop(uv, null, { imageSize: 320, inputSize: 0 })).toThrow(
      'computeHandCrop: inputSize must be an integer ≥ 1, but received 0.',
    );
  });
});
