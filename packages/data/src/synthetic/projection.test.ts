/**
 * The renderer's `projectPoints` (flat float64 arrays, any 3×3 `K`) and `@phalanx/pose`'s
 * `projectPoints` (nested arrays, zero-skew pinhole `K`) write the same formula twice. They must agree
 * wherever both apply: a zero-skew `K` whose last row is `[0, 0, 1]`.
 */
import { projectPoints as projectNested } from '@phalanx/pose';
import { describe, expect, it } from 'vitest';
import { Rng } from '../random';
import { projectPoints } from './render';

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
