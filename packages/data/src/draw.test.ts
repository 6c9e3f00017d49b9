import { describe, expect, it } from 'vitest';
import { NUM_JOINTS } from '@phalanx/skeleton';
import { drawSkeleton, FINGER_COLORS } from './draw';
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
});
