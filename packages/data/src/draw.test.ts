import { describe, expect, it } from 'vitest';
import { NUM_JOINTS } from '@phalanx/skeleton';
import { PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { contactSheet, drawSkeleton, FINGER_COLORS } from './draw';
import type { RgbImage } from './types';

const grey = (width: number, height: number): RgbImage => ({
  data: new Uint8Array(width * height * 3).fill(128),
  width,
  height,
});

/** The 21 joints along a diagonal of a `size`-px square, wrist top left. */
const diagonal = (size: number) =>
  Array.from({ length: NUM_JOINTS }, (_, j) => [(j + 2) * (size / 24), (j + 2) * (size / 24)]).flat();

const pixel = (image: RgbImage, x: number, y: number) =>
  Array.from(image.data.subarray(3 * (y * image.width + x), 3 * (y * image.width + x) + 3));

describe('drawSkeleton', () => {
  it('copies the image, draws bones in finger colours and joints as dots, and leaves the rest alone', () => {
    const image = grey(96, 96);
    const uv = diagonal(96);
    const drawn = drawSkeleton(image, uv);
    expect(image.data.every((v) => v === 128)).toBe(true);
    expect([drawn.width, drawn.height]).toEqual([96, 96]);
    // The wrist (joint 0) is a white dot in a black rim; the pinky tip (joint 20) a pinky-coloured dot.
    expect(pixel(drawn, Math.round(uv[0]), Math.round(uv[1]))).toEqual([255, 255, 255]);
    expect(pixel(drawn, Math.round(uv[40]), Math.round(uv[41]))).toEqual([...FINGER_COLORS[4]]);
    // Far from the diagonal, nothing is drawn.
    expect(pixel(drawn, 90, 5)).toEqual([128, 128, 128]);
    expect(pixel(drawn, 5, 90)).toEqual([128, 128, 128]);
  });

  it('returns promptly, drawing what is in the image, for joints far outside it or not finite', () => {
    const far = diagonal(96).map((v, i) => (i % 2 === 0 ? v : v * 1e6)); // rows up to 8·10⁷ away
    const cases: [RgbImage, number[]][] = [
      [grey(96, 96), far],
      [grey(200_000, 1), diagonal(200_000)], // a 1-row strip: bones 1250 px wide, joints 10⁵ px off its row
      [grey(64, 64), diagonal(64).map((v, i) => (i === 7 ? Infinity : v))],
      [grey(64, 64), diagonal(64).map((v, i) => (i === 4 ? -Infinity : i === 9 ? NaN : v))],
    ];
    for (const [image, uv] of cases) {
      const start = performance.now();
      const drawn = drawSkeleton(image, uv);
      expect(performance.now() - start, `${image.width} × ${image.height}`).toBeLessThan(3000);
      expect(drawn.data).toHaveLength(image.data.length);
    }
  });

  it('refuses an image whose data is not width × height × 3 values, and uv of fewer than 42 numbers', () => {
    const cases: [() => unknown, string][] = [
      [
        () => drawSkeleton({ data: new Uint8Array(12), width: 5, height: 5 }, diagonal(5)),
        'drawSkeleton: image.data must be 5 × 5 × 3 = 75 values (Uint8Array or Float32Array), but received 12.',
      ],
      [
        () => drawSkeleton({ data: new Uint8Array(0), width: 0, height: 0 }, diagonal(5)),
        'drawSkeleton: image must be an RGB image {data, width ≥ 1, height ≥ 1}, but received [0, 0].',
      ],
      [
        () => drawSkeleton(grey(8, 8), [1, 2]),
        'drawSkeleton: uv must be 42 numbers (21 joints × (x, y)), but received 2.',
      ],
      [
        () => contactSheet([grey(4, 4), grey(2, 2)]),
        'contactSheet: images[1] must be 4×4 like images[0], but received [2, 2].',
      ],
      [
        () => contactSheet([grey(4, 4), { data: new Uint8Array(3), width: 4, height: 4 }]),
        'contactSheet: images[1].data must be 4 × 4 × 3 = 48 values (Uint8Array or Float32Array), but received 3.',
      ],
    ];
    for (const [f, message] of cases) {
      expect(f, message).toThrow(PhalanxShapeError);
      expect(f).toThrow(message);
    }
  });
});

describe('contactSheet', () => {
  it('tiles images into a grid with gaps, float32 images scaled, rounded and clamped to 0–255', () => {
    const float = { data: new Float32Array([0.5, 1.2, -0.1, 0.5, 1.2, -0.1]), width: 2, height: 1 };
    const sheet = contactSheet([grey(2, 1), float], 2, 1);
    expect([sheet.width, sheet.height]).toEqual([7, 3]);
    expect(pixel(sheet, 1, 1)).toEqual([128, 128, 128]);
    // 0.5 → 127.5 → 128; 1.2 → 306 clamps to 255 (it wrapped to 50); −0.1 clamps to 0 (it wrapped to 231).
    expect(pixel(sheet, 4, 1)).toEqual([128, 255, 0]);
    expect(pixel(sheet, 0, 0)).toEqual([24, 24, 24]);
  });

  it('refuses a list that is not one, and columns or gap that are not integers in range, by name', () => {
    const tiles = [grey(4, 4), grey(4, 4)];
    const cases: [() => unknown, string][] = [
      [() => contactSheet(null as never), 'contactSheet: images must be a list of RGB images, but received null.'],
      [() => contactSheet(tiles, 0), 'contactSheet: columns must be an integer ≥ 1, but received 0.'],
      [() => contactSheet(tiles, Number.NaN), 'contactSheet: columns must be an integer ≥ 1, but received NaN.'],
      [() => contactSheet(tiles, 1.5), 'contactSheet: columns must be an integer ≥ 1, but received 1.5.'],
      [() => contactSheet(tiles, 2, -5), 'contactSheet: gap must be an integer ≥ 0, but received -5.'],
      [() => contactSheet(tiles, 2, 1.5), 'contactSheet: gap must be an integer ≥ 0, but received 1.5.'],
      [() => contactSheet(tiles, 1e9), 'contactSheet: sheet must be at most 2147483647 bytes'],
      [() => contactSheet(tiles, 2, 1e9), 'contactSheet: sheet must be at most 2147483647 bytes'],
    ];
    for (const [f, message] of cases) {
      expect(f, message).toThrow(PhalanxConfigError);
      expect(f).toThrow(message);
    }
  });
});
