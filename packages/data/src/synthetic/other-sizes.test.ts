import { describe, expect, it } from 'vitest';
import { Rng } from '../random';
import { drawAppearance } from './appearance';
import { placeCamera } from './camera';
import { drawHandPose } from './hand-pose';
import { rasterizeHand } from './hand-raster';
import { createCanvas, type Canvas } from './raster';
import { renderSyntheticHand, type SyntheticHandOptions } from './render';

/**
 * The renderer at image sizes other than the defaults (odd, just above a power of two, non-square), checked
 * against float64 truths: the pinhole projection, the documented visibility rule, and the z-buffer the hand
 * was drawn into (re-drawn here by the same stages from the same random stream).
 */
const SIZES: [number, number][] = [
  [17, 17],
  [32, 32],
  [33, 33],
  [100, 100],
  [255, 255],
  [257, 257],
  [80, 48],
  [48, 80],
  [16, 200],
  [200, 16],
];

/** The canvas (colour and depth) of the hand of `seed`, drawn by the renderer's stages with default options. */
function drawnCanvas(seed: number, width: number, height: number): Canvas {
  const rng = new Rng(seed);
  const canvas = createCanvas(width, height);
  const pose = drawHandPose(rng, { handedness: 'right', poseKind: undefined, angles: undefined });
  const request = { width, height, handExtent: [0.45, 0.9] as const, maxTilt: undefined, rotation: undefined };
  const camera = placeCamera(rng, pose.joints, pose.shape, request);
  rasterizeHand(canvas, pose, camera, drawAppearance(rng, canvas, undefined));
  return canvas;
}

/** Whether the pixel `(u, v)` or one of its 8 neighbours holds a drawn part of the hand. */
function nearDrawn(canvas: Canvas, u: number, v: number): boolean {
  for (let dy = -1; dy <= 1; dy++) {
    for (let dx = -1; dx <= 1; dx++) {
      const x = u + dx;
      const y = v + dy;
      if (x >= 0 && y >= 0 && x < canvas.width && y < canvas.height && canvas.depth[y * canvas.width + x] < Infinity) {
        return true;
      }
    }
  }
  return false;
}

describe('renderSyntheticHand at other image sizes', () => {
  it('uv is the float64 pinhole projection of xyz with the returned zero-skew K', () => {
    for (const [width, height] of SIZES) {
      for (let seed = 0; seed < 12; seed++) {
        const s = renderSyntheticHand(seed, { width, height } satisfies SyntheticHandOptions);
        expect([s.width, s.height, s.image.length]).toEqual([width, height, width * height * 3]);
        const [fx, skew, cx, k3, fy, cy, k6, k7, k8] = s.K;
        expect([skew, k3, k6, k7, k8, fx]).toEqual([0, 0, 0, 0, 1, fy]);
        // Focal length 0.9–2.4 × min(W, H); principal point within 4 % of the image centre.
        expect(fx / Math.min(width, height)).toBeGreaterThanOrEqual(0.9);
        expect(fx / Math.min(width, height)).toBeLessThan(2.4);
        expect(Math.abs(cx - (width - 1) / 2)).toBeLessThanOrEqual(0.04 * width);
        expect(Math.abs(cy - (height - 1) / 2)).toBeLessThanOrEqual(0.04 * height);
        for (let j = 0; j < 21; j++) {
          const [x, y, z] = [s.xyz[3 * j], s.xyz[3 * j + 1], s.xyz[3 * j + 2]];
          expect(z).toBeGreaterThan(50);
          const u = (fx * x) / z + cx;
          const v = (fy * y) / z + cy;
          expect(Math.abs(s.uv[2 * j] - u), `${width}×${height} seed ${seed} joint ${j}`).toBeLessThan(1e-9);
          expect(Math.abs(s.uv[2 * j + 1] - v), `${width}×${height} seed ${seed} joint ${j}`).toBeLessThan(1e-9);
        }
      }
    }
  });

  it('visible follows the documented rule on the z-buffer the hand was drawn into', () => {
    for (const [width, height] of SIZES) {
      for (let seed = 0; seed < 12; seed++) {
        const s = renderSyntheticHand(seed, { width, height });
        const canvas = drawnCanvas(seed, width, height);
        for (let j = 0; j < 21; j++) {
          const u = Math.round(s.uv[2 * j]);
          const v = Math.round(s.uv[2 * j + 1]);
          const label = `${width}×${height} seed ${seed} joint ${j}`;
          if (u < 0 || v < 0 || u >= width || v >= height) {
            expect(s.visible[j], label).toBe(0); // out of frame
            continue;
          }
          const zb = canvas.depth[v * width + u];
          // Hidden only behind something drawn in front of the joint (the rule's tolerance is ≥ 3 mm).
          if (s.visible[j] === 0) expect(zb, label).toBeLessThan(s.xyz[3 * j + 2] - 3);
          // From 32 px on, every finger is wider than a pixel: a visible joint lies on the drawn hand or next to it.
          else if (Math.min(width, height) >= 32) expect(nearDrawn(canvas, u, v), label).toBe(true);
        }
      }
    }
  });
});
