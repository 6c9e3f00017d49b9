import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { imageToModel, letterboxGeometry, letterboxImage, modelToImage } from './letterbox';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** An image that is black except for one white pixel at (x, y). */
function dot(height: number, width: number, x: number, y: number): tf.Tensor3D {
  const data = new Int32Array(height * width * 3);
  data.fill(255, 3 * (y * width + x), 3 * (y * width + x) + 3);
  return tf.tensor3d(data, [height, width, 3], 'int32');
}

/** Position of the largest value of channel 0 of `[1, S, S, 3]`. */
async function argmax2d(input: tf.Tensor4D): Promise<number[]> {
  const size = input.shape[2];
  const flat = await tf.tidy(() => tf.argMax(tf.reshape(tf.slice(input, [0, 0, 0, 0], [1, -1, -1, 1]), [-1]))).data();
  return [flat[0] % size, Math.floor(flat[0] / size)];
}

describe('letterboxGeometry', () => {
  it('centres a landscape image in a square, pools by ⌊max side / S⌋, and keeps the aspect ratio', () => {
    expect(letterboxGeometry(480, 640, 64)).toEqual({
      height: 480,
      width: 640,
      inputSize: 64,
      padded: 640,
      top: 80,
      left: 0,
      pool: 10,
      pooled: 64,
    });
    // 100 × 70 at S = 64: pool 1, padded to 100, 15 columns left, 15 right.
    expect(letterboxGeometry(100, 70, 64)).toMatchObject({ padded: 100, top: 0, left: 15, pool: 1, pooled: 100 });
    // 130 × 131 at S = 64: pool 2, 66 pooled pixels, padded to 132 (top 1, left 0 — the odd one bottom/right).
    expect(letterboxGeometry(130, 131, 64)).toMatchObject({ padded: 132, top: 1, left: 0, pool: 2, pooled: 66 });
    // Smaller than the input: no pooling, upsampled.
    expect(letterboxGeometry(20, 30, 64)).toMatchObject({ padded: 30, top: 5, left: 0, pool: 1, pooled: 30 });
  });

  it('rejects sizes that are not positive integers (named error)', () => {
    expect(() => letterboxGeometry(0, 10, 64)).toThrow(PhalanxConfigError);
    expect(() => letterboxGeometry(10, 2.5, 64)).toThrow(/width must be an integer ≥ 1/);
  });
});

describe('modelToImage / imageToModel', () => {
  it('are inverse maps for many sizes', () => {
    for (const [h, w, s] of [
      [480, 640, 64],
      [100, 70, 64],
      [130, 131, 64],
      [20, 30, 64],
      [1000, 999, 96],
    ]) {
      const box = letterboxGeometry(h, w, s);
      const points = [
        [0, 0],
        [s - 1, s - 1],
        [12.25, 40.5],
      ];
      const back = imageToModel(modelToImage(points, box), box);
      back.forEach((p, i) => p.forEach((v, c) => expect(v).toBeCloseTo(points[i][c], 9)));
    }
  });

  it('maps the model input corners to the centres of the corner blocks of the padded square', () => {
    const box = letterboxGeometry(480, 640, 64); // pool 10, top 80
    expect(modelToImage([[0, 0]], box)).toEqual([[4.5, 4.5 - 80]]);
    expect(modelToImage([[63, 63]], box)).toEqual([[634.5, 634.5 - 80]]);
  });

  it('refuse coordinates that are not finite numbers by name, instead of returning NaN', () => {
    const box = letterboxGeometry(480, 640, 64);
    const cases: [() => unknown, string][] = [
      [
        () =>
          modelToImage(
            [
              [1, 2],
              [NaN, 3],
            ],
            box,
          ),
        'modelToImage: points[1][0] must be a finite number, but received NaN.',
      ],
      [
        () => imageToModel([['4', 5]] as never, box),
        "imageToModel: points[0][0] must be a finite number, but received '4'.",
      ],
      [
        () => imageToModel([[4, -Infinity, 0]], box),
        'imageToModel: points[0][1] must be a finite number, but received -Infinity.',
      ],
      [
        () => modelToImage([[0, null]] as never, box),
        'modelToImage: points[0][1] must be a finite number, but received null.',
      ],
    ];
    for (const [f, message] of cases) {
      expect(f, message).toThrow(PhalanxConfigError);
      expect(f).toThrow(message);
    }
  });
});

describe('letterboxImage', () => {
  it('puts an image pixel where imageToModel says (padding, pooling by 4, no resize)', async () => {
    // 256 × 200 → padded 256 (28 columns left), pool 4 → 64: pixel (x, y) lands in block ⌊(x + 28)/4⌋, ⌊y/4⌋.
    const box = letterboxGeometry(256, 200, 64);
    expect(box).toMatchObject({ pool: 4, pooled: 64, left: 28, top: 0 });
    const image = dot(256, 200, 101, 37);
    const input = letterboxImage(image, box);
    expect(input.shape).toEqual([1, 64, 64, 3]);
    expect(await argmax2d(input)).toEqual([Math.floor((101 + 28) / 4), Math.floor(37 / 4)]);
    // The block average of one white pixel: 255/16, divided by 255.
    expect((await tf.max(input).data())[0]).toBeCloseTo(1 / 16, 6);
    const [x, y] = imageToModel([[101, 37]], box)[0];
    expect(Math.abs(x - 32)).toBeLessThan(0.5); // (101 + 28 − 1.5)/4 = 31.875
    expect(Math.abs(y - 9)).toBeLessThan(0.5);
    tf.dispose([image, input]);
  });

  it('is the identity (divided by 255) for an S × S image', async () => {
    const image = tf.randomUniform([64, 64, 3], 0, 255, 'int32', 3) as tf.Tensor3D;
    const input = letterboxImage(image, letterboxGeometry(64, 64, 64));
    const diff = await tf.max(tf.abs(tf.sub(tf.squeeze(input, [0]), tf.div(image, 255)))).data();
    expect(diff[0]).toBeLessThan(1e-7);
    tf.dispose([image, input]);
  });

  it('samples every second pixel of a (2S − 1)-pixel image (aligned corners)', async () => {
    const image = tf.randomUniform([127, 127, 3], 0, 255, 'int32', 4) as tf.Tensor3D;
    const input = letterboxImage(image, letterboxGeometry(127, 127, 64));
    const expected = tf.div(tf.stridedSlice(image, [0, 0, 0], [127, 127, 3], [2, 2, 1]), 255);
    const diff = await tf.max(tf.abs(tf.sub(tf.squeeze(input, [0]), expected))).data();
    expect(diff[0]).toBeLessThan(1e-6);
    tf.dispose([image, input, expected]);
  });

  it('pools before it pads: a 2 × 4000 strip costs memory of the order of the strip, not of a 4000² square', async () => {
    const image = tf.fill([2, 4000, 3], 255, 'int32') as tf.Tensor3D;
    const box = letterboxGeometry(2, 4000, 64);
    const before = tf.memory().numBytes;
    let input: tf.Tensor4D | undefined;
    const info = await tf.profile(() => {
      input = letterboxImage(image, box);
      return input;
    });
    // The strip is 96 KB; padding it to its 4000 × 4000 square first would take 192 MB.
    expect(info.peakBytes - before).toBeLessThan(10 * 2 * 4000 * 3 * 4);
    // The strip's one pooled row (2 of the 62 rows of its block are white), resized from 65 to 64 rows.
    const brightest = (await tf.max(input!).data())[0];
    expect(brightest).toBeGreaterThan(0.25 * (2 / 62));
    expect(brightest).toBeLessThan(2 / 62 + 1e-6);
    tf.dispose([image, input!]);
  });

  it('equals padding to the square, averaging the blocks and resizing (any size, any S)', () => {
    const reference = (image: tf.Tensor3D, box: ReturnType<typeof letterboxGeometry>) =>
      tf.tidy(() => {
        const { height, width, padded, top, left, pool, inputSize } = box;
        const square = tf.pad(tf.cast(image, 'float32'), [
          [top, padded - height - top],
          [left, padded - width - left],
          [0, 0],
        ]);
        const pooled = tf.avgPool(tf.expandDims(square, 0) as tf.Tensor4D, pool, pool, 'valid');
        return tf.div(tf.image.resizeBilinear(pooled, [inputSize, inputSize], true), 255);
      });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 90 }),
        fc.integer({ min: 1, max: 90 }),
        fc.integer({ min: 2, max: 20 }),
        fc.integer(),
        (height, width, size, seed) => {
          const image = tf.randomUniform([height, width, 3], 0, 255, 'int32', seed) as tf.Tensor3D;
          const box = letterboxGeometry(height, width, size);
          const [actual, expected] = [letterboxImage(image, box), reference(image, box)];
          expect(actual.shape).toEqual([1, size, size, 3]);
          const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(actual, expected))).dataSync()[0]);
          tf.dispose([image, actual, expected]);
          expect(diff).toBeLessThan(1e-5);
        },
      ),
      { numRuns: 150, seed: 7 },
    );
  });

  it('refuses an image of another size than its box, and arguments that are not an image or a box, by name', () => {
    const image = tf.zeros([8, 8, 3], 'int32') as tf.Tensor3D;
    const before = tf.memory().numTensors;
    const box = letterboxGeometry(8, 8, 4);
    const cases: [() => unknown, string, typeof PhalanxConfigError | typeof PhalanxShapeError][] = [
      // The box of a 16 × 16 image returned a 2 × 2 input instead of the model's 4 × 4.
      [
        () => letterboxImage(image, letterboxGeometry(16, 16, 4)),
        'letterboxImage: image must be a tensor [16, 16, 3] (the size its box was made for), but received [8, 8, 3].',
        PhalanxShapeError,
      ],
      [
        () => letterboxImage(null as never, box),
        'letterboxImage: image must be a tensor [H, W, 3], but received null.',
        PhalanxShapeError,
      ],
      [
        () => letterboxImage(image, null as never),
        'letterboxImage: box must be a Letterbox from letterboxGeometry, but received null.',
        PhalanxConfigError,
      ],
      [
        () => modelToImage([[1, 1]], {} as never),
        'modelToImage: box must be a Letterbox from letterboxGeometry, but received {}.',
        PhalanxConfigError,
      ],
      [
        () => imageToModel(null as never, box),
        'imageToModel: points must be a list of [x, y] points, but received null.',
        PhalanxShapeError,
      ],
    ];
    for (const [f, message, type] of cases) {
      expect(f, message).toThrow(type);
      expect(f).toThrow(message);
    }
    expect(tf.memory().numTensors).toBe(before);
    image.dispose();
  });

  it('leaks no tensors', () => {
    const image = tf.zeros([50, 90, 3], 'int32') as tf.Tensor3D;
    const before = tf.memory().numTensors;
    letterboxImage(image, letterboxGeometry(50, 90, 64)).dispose();
    expect(tf.memory().numTensors).toBe(before);
    image.dispose();
  });
});

describe('letterboxImage: images and boxes that are not what they claim', () => {
  it('refuses a disposed or bool image and a box changed by hand, by name, leaking nothing', () => {
    const image = tf.zeros([8, 8, 3], 'int32') as tf.Tensor3D;
    const disposed = tf.zeros([8, 8, 3], 'int32') as tf.Tensor3D;
    disposed.dispose();
    const bool = tf.zeros([8, 8, 3], 'bool') as tf.Tensor3D;
    const box = letterboxGeometry(8, 8, 4); // pool 2, pooled 4, top 0
    const before = tf.memory().numTensors;
    const cases: [() => unknown, string, typeof PhalanxConfigError | typeof PhalanxShapeError][] = [
      // A TypeError from inside tfjs, before.
      [
        () => letterboxImage(disposed, box),
        "letterboxImage: image must be a tensor that is not disposed, but received 'a disposed tensor'.",
        PhalanxConfigError,
      ],
      // Letterboxed as 0/1 pixels, before.
      [
        () => letterboxImage(bool, box),
        "letterboxImage: image must be a tensor of dtype int32 or float32, but received 'bool'.",
        PhalanxShapeError,
      ],
      [
        () => letterboxImage(image, { ...box, pool: 0 }),
        'letterboxImage: box.pool must be 2, as letterboxGeometry(8, 8, 4) gives, but received 0.',
        PhalanxConfigError,
      ],
      [
        () => letterboxImage(image, { ...box, top: -3 }),
        'letterboxImage: box.top must be 0, as letterboxGeometry(8, 8, 4) gives, but received -3.',
        PhalanxConfigError,
      ],
      [
        () => letterboxImage(image, { ...box, inputSize: 0 }),
        'letterboxImage: box.inputSize must be an integer ≥ 2, but received 0.',
        PhalanxConfigError,
      ],
      [
        () => modelToImage([[1, 1]], { ...box, height: 7.5 }),
        'modelToImage: box.height must be an integer ≥ 1, but received 7.5.',
        PhalanxConfigError,
      ],
    ];
    for (const [f, message, type] of cases) {
      expect(f, message).toThrow(type);
      expect(f).toThrow(message);
    }
    expect(tf.memory().numTensors).toBe(before);
    // A copy of a good box is fine.
    tf.dispose(letterboxImage(image, { ...box }));
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([image, bool]);
  });
});
