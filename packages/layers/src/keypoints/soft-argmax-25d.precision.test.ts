import * as tf from '@tensorflow/tfjs-core';
import { forEachBackend } from '@phalanx/testing';
import { describe, expect, it } from 'vitest';
import { volumetricSoftArgmax25D } from './soft-argmax-25d';

// EHPE's full-size volume (64×64×8 per joint): one softmax over 32768 cells. A float64 reference in JS.
function reference(v: Float32Array, H: number, W: number, J: number, D: number): number[] {
  const out: number[] = [];
  for (let j = 0; j < J; j++) {
    let max = -Infinity;
    for (let c = 0; c < H * W; c++) for (let d = 0; d < D; d++) max = Math.max(max, v[c * J * D + j * D + d]);
    let s = 0;
    const e = [0, 0, 0];
    for (let c = 0; c < H * W; c++) {
      for (let d = 0; d < D; d++) {
        const p = Math.exp(v[c * J * D + j * D + d] - max);
        s += p;
        e[0] += p * (c % W);
        e[1] += p * Math.floor(c / W);
        e[2] += p * d;
      }
    }
    out.push(e[0] / s, e[1] / s, e[2] / s);
  }
  return out;
}

forEachBackend((backend) => {
  describe('volumetricSoftArgmax25D precision', () => {
    it('stays within 2e-4 px of float64 on a 64×64×8 volume (long reductions are blocked)', async () => {
      const [H, W, J, D] = [64, 64, 2, 8];
      const volume = tf.randomNormal([1, H, W, J * D], 0, 2, 'float32', 7);
      const expected = reference((await volume.data()) as Float32Array, H, W, J, D);
      const { keypoints } = volumetricSoftArgmax25D(volume, J, D);
      const got = Array.from(await keypoints.data());
      const worst = Math.max(...got.map((g, i) => Math.abs(g - expected[i])));
      expect(worst, `${backend}: max |Δ| ${worst}`).toBeLessThan(2e-4);
      tf.dispose([volume, keypoints]);
    });
  });
});
