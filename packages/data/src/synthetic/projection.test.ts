/**
 * The renderer's `projectPoints` (flat float64 arrays, any 3×3 `K`) and `@phalanx/pose`'s
 * `projectPoints` (nested arrays, the first two rows of `K`) write the same formula twice. They must agree
 * wherever both apply: a `K` whose last row is `[0, 0, 1]`.
 */
import { projectPoints as projectNested } from '@phalanx/pose';
import { describe, expect, it } from 'vitest';
import { augment } from '../augment';
import { Rng } from '../random';
import { projectPoints, renderSyntheticHand } from './render';

describe("the renderer's projection and pose's", () => {
  it('agree on 200 random points × 50 random zero-skew cameras', () => {
    const rng = new Rng(7);
    const random = (): number => rng.next();
    let compared = 0;
    let worst = 0;
    for (let camera = 0; camera < 50; camera++) {
      const f = 200 + 600 * random();
      const K = [
        [f, 0, 100 + 60 * random()],
        [0, f * (0.9 + 0.2 * random()), 100 + 60 * random()],
        [0, 0, 1],
      ];
      const xyz = Array.from({ length: 200 }, () => [0.4 * (random() - 0.5), 0.4 * (random() - 0.5), 0.2 + random()]);
      const flat = projectPoints(xyz.flat(), K.flat());
      const nested = projectNested(xyz, K);
      nested.forEach(([u, v], i) => {
        worst = Math.max(worst, Math.abs(flat[2 * i] - u), Math.abs(flat[2 * i + 1] - v));
        compared++;
      });
    }
    expect(compared).toBe(50 * 200);
    expect(worst).toBeLessThan(1e-9);
  });
});

describe("augment's K and pose's zero-skew projection", () => {
  /** Largest distance (px) between pose's projection of the augmented joints and the augmented uv. */
  function poseOffset(rotateCamera: boolean): number {
    let worst = 0;
    for (let seed = 0; seed < 10; seed++) {
      const a = augment(renderSyntheticHand(seed, { size: 64 }), { seed, outputSize: 64, rotateCamera });
      const K = [0, 1, 2].map((r) => Array.from(a.K.slice(3 * r, 3 * r + 3)));
      const xyz = Array.from({ length: 21 }, (_, j) => Array.from(a.xyz.slice(3 * j, 3 * j + 3)));
      projectNested(xyz, K).forEach(([u, v], j) => {
        worst = Math.max(worst, Math.hypot(u - a.uv[2 * j], v - a.uv[2 * j + 1]));
      });
    }
    return worst;
  }

  it('agree with rotateCamera (the default) and without it', () => {
    expect(poseOffset(true)).toBeLessThan(1e-9);
    // K' = A·K holds −s·fy·sin θ and s·fx·sin θ off the diagonal, which pose reads too.
    expect(poseOffset(false)).toBeLessThan(1e-9);
  });
});
