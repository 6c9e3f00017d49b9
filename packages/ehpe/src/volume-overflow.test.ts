import * as tf from '@tensorflow/tfjs-core';
import '@phalanx/wasm-training';
import { describe, expect, it } from 'vitest';
import { forEachBackend } from '@phalanx/testing';
import { FLOAT32_MAX, PhalanxConfigError } from '@phalanx/errors';
import { leanLogSumExp } from '@phalanx/layers';
import { twStageLoss, twStageTargets, volumeDepthCrossEntropy, volumeScoremapCrossEntropy } from './index';

/** The scoremap cross-entropy as written before the overflow fix (`β·V` straight into the logsumexps). */
function formerScoremap(volume: tf.Tensor, targetHeatmaps: tf.Tensor, D: number, b: number): tf.Scalar {
  const [B, H, W, n] = targetHeatmaps.shape;
  return tf.tidy(() => {
    const logits = tf.mul(tf.reshape(volume, [B, H * W, n, D]), b);
    const marginal = leanLogSumExp(logits, 3);
    const logp = tf.sub(marginal, leanLogSumExp(marginal, 1, true));
    const t = tf.reshape(targetHeatmaps, [B, H * W, n]);
    const tHat = tf.div(t, tf.maximum(tf.sum(t, 1, true), 1e-12));
    return tf.neg(tf.mean(tf.sum(tf.mul(tHat, logp), 1))) as tf.Scalar;
  });
}

/** The depth cross-entropy as written before the overflow fix. */
function formerDepth(volume: tf.Tensor, targetDepths: tf.Tensor, D: number, b: number): tf.Scalar {
  const [B, n] = targetDepths.shape;
  const [, H, W] = volume.shape;
  return tf.tidy(() => {
    const logits = tf.mul(tf.reshape(volume, [B, H * W, n, D]), b);
    const marginal = leanLogSumExp(logits, 1);
    const logp = tf.sub(marginal, leanLogSumExp(marginal, 2, true));
    const z = tf.clipByValue(tf.expandDims(tf.cast(targetDepths, 'float32'), 2), 0, D - 1);
    const bins = tf.reshape(tf.range(0, D, 1, 'float32'), [1, 1, D]);
    const t = tf.relu(tf.sub(1, tf.abs(tf.sub(bins, z))));
    return tf.neg(tf.mean(tf.sum(tf.mul(t, logp), 2))) as tf.Scalar;
  });
}

/** The raw bytes of a tensor's values, to compare float32 results bit for bit (−0 and NaN payloads included). */
function bytes(t: tf.Tensor): Uint8Array {
  const values = t.dataSync() as Float32Array;
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

/**
 * One joint, S = 2, D = 2: `V = 2^100` at (x, y, d) = (0, 0, 0) (and at `tie`, if given), `2^100 − 2^77` (its
 * float32 neighbour) elsewhere. With β = 2^30, `β·V ≈ 2^130` overflows float32; `β·(V − max V)` is 0 or −2^107.
 */
function overflowingVolume(tie?: [number, number]): tf.Tensor4D {
  const values = new Float32Array(8).fill(2 ** 100 - 2 ** 77);
  values[0] = 2 ** 100;
  if (tie) values[tie[0] * 2 + tie[1]] = 2 ** 100;
  return tf.tensor4d(values, [1, 2, 2, 2]);
}

const BETA = 2 ** 30;

describe('the volume terms on ordinary inputs', () => {
  forEachBackend(() => {
    it('keep the former values and gradients bit for bit when β·V is finite (seeded random inputs)', () => {
      const cases = [
        { B: 2, S: 3, n: 2, D: 3, beta: 1, seed: 1 },
        { B: 1, S: 4, n: 3, D: 2, beta: 0.37, seed: 2 },
        { B: 3, S: 2, n: 1, D: 4, beta: 7.5, seed: 3 },
        { B: 2, S: 3, n: 2, D: 2, beta: 2e37, seed: 4 },
        { B: 1, S: 5, n: 2, D: 3, beta: 1e-30, seed: 5 },
      ];
      for (const { B, S, n, D, beta, seed } of cases) {
        const volume = tf.randomNormal([B, S, S, n * D], 0, 3, 'float32', seed);
        const heatmaps = tf.randomUniform([B, S, S, n], 0, 1, 'float32', seed + 10);
        const depths = tf.randomUniform([B, n], -0.5, D - 0.5, 'float32', seed + 20);
        const pairs: [(v: tf.Tensor) => tf.Scalar, (v: tf.Tensor) => tf.Scalar][] = [
          [(v) => volumeScoremapCrossEntropy(v, heatmaps, D, beta), (v) => formerScoremap(v, heatmaps, D, beta)],
          [(v) => volumeDepthCrossEntropy(v, depths, D, beta), (v) => formerDepth(v, depths, D, beta)],
        ];
        for (const [now, before] of pairs) {
          const a = tf.valueAndGrad(now)(volume);
          const b = tf.valueAndGrad(before)(volume);
          expect(Number.isFinite(b.value.dataSync()[0])).toBe(true);
          expect(bytes(a.value)).toEqual(bytes(b.value));
          expect(bytes(a.grad)).toEqual(bytes(b.grad));
          tf.dispose([a.value, a.grad, b.value, b.grad]);
        }
        tf.dispose([volume, heatmaps, depths]);
      }
    });
  });
});

describe('the volume terms when β·V overflows float32', () => {
  forEachBackend(() => {
    it('give the finite cross-entropies of softmax(β·V) and their gradient β·(p − t̂·q)', () => {
      const volume = overflowingVolume();
      const heatmaps = tf.tensor4d([1, 1, 0, 0], [1, 2, 2, 1]); // t̂ = ½ at (0, 0) and at (0, 1)
      // log p = 0 at (0, 0) and −2^107 at (0, 1): CE = ½·2^107 = 2^106 (exact up to float32 rounding).
      const scoremap = tf.valueAndGrad((v: tf.Tensor) => volumeScoremapCrossEntropy(v, heatmaps, 2, BETA))(volume);
      expect(scoremap.value.dataSync()[0]).toBe(2 ** 106);
      // ∂CE/∂V = β·(p − t̂·q)·…: finite, β/2 at the maximum, 0 where p = t̂ = 0 ((1, 0) and (1, 1)), < 0 at (0, 1).
      // (At (0, 1) float32 cannot hold −2^107 + ln 2, so q there is 1 instead of ½: −β/2, not −β/4.)
      const g = Array.from(scoremap.grad.dataSync());
      expect(g.every(Number.isFinite)).toBe(true);
      expect([g[0], g[1], ...g.slice(4)]).toEqual([2 ** 29, 0, 0, 0, 0, 0]);
      expect(g[2] < 0 && g[3] < 0).toBe(true);
      const depths = tf.tensor2d([[0.5]]); // t = ½ on bins 0 and 1; log p = [0, −2^107]
      const depth = tf.valueAndGrad((v: tf.Tensor) => volumeDepthCrossEntropy(v, depths, 2, BETA))(volume);
      expect(depth.value.dataSync()[0]).toBe(2 ** 106);
      // β·(P_d − t_d)·q(x, y | d): β/2 at the maximum, 0 elsewhere in bin 0, < 0 (finite) in bin 1.
      const h = Array.from(depth.grad.dataSync());
      expect(h.every(Number.isFinite)).toBe(true);
      expect([h[0], h[2], h[4], h[6]]).toEqual([2 ** 29, 0, 0, 0]);
      expect([h[1], h[3], h[5], h[7]].every((x) => x < 0)).toBe(true);
      tf.dispose([volume, heatmaps, depths, scoremap.value, scoremap.grad, depth.value, depth.grad]);
    });

    it('handle β·V that overflows to −∞ only: a position whose logits all vanish has p = 0, not NaN', () => {
      // β·V = 0 except at (0, 1), both bins −1e40 → −∞: p = ⅙ on the six zeros, 0 at (0, 1).
      const volume = tf.tensor4d([0, 0, -1e10, -1e10, 0, 0, 0, 0], [1, 2, 2, 2]);
      const heatmaps = tf.tensor4d([1, 0, 0, 0], [1, 2, 2, 1]); // all mass at (0, 0): CE = −ln(2/6) = ln 3
      const depths = tf.tensor2d([[0.5]]); // ½ per bin, p(d) = ½ each: CE = ln 2
      const losses = [
        [tf.valueAndGrad((v: tf.Tensor) => volumeScoremapCrossEntropy(v, heatmaps, 2, 1e30))(volume), Math.log(3)],
        [tf.valueAndGrad((v: tf.Tensor) => volumeDepthCrossEntropy(v, depths, 2, 1e30))(volume), Math.log(2)],
      ] as const;
      for (const [{ value, grad }, expected] of losses) {
        expect(value.dataSync()[0]).toBeCloseTo(expected, 6);
        expect(Array.from(grad.dataSync()).every(Number.isFinite)).toBe(true);
      }
      tf.dispose([volume, heatmaps, depths, ...losses.flatMap(([{ value, grad }]) => [value, grad])]);
    });

    it('keep NaN in a joint’s volume NaN, as before', () => {
      const volume = tf.tensor4d([0, Number.NaN, 1, 2, 0, 0, 0, 0], [1, 2, 2, 2]);
      const heatmaps = tf.tensor4d([1, 0, 0, 0], [1, 2, 2, 1]);
      const depths = tf.tensor2d([[0.5]]);
      const values = [
        volumeScoremapCrossEntropy(volume, heatmaps, 2, 1),
        volumeDepthCrossEntropy(volume, depths, 2, 1),
        volumeScoremapCrossEntropy(volume, heatmaps, 2, FLOAT32_MAX),
      ];
      for (const v of values) expect(v.dataSync()[0]).toBeNaN();
      tf.dispose([volume, heatmaps, depths, ...values]);
    });

    it('split the probability between tied maxima (ln 2) with a finite gradient', () => {
      const volume = overflowingVolume([1, 1]); // maxima at (0, 0, 0) and (0, 1, 1)
      const heatmaps = tf.tensor4d([1, 1, 0, 0], [1, 2, 2, 1]);
      const depths = tf.tensor2d([[0.25]]);
      const losses = [
        tf.valueAndGrad((v: tf.Tensor) => volumeScoremapCrossEntropy(v, heatmaps, 2, BETA))(volume),
        tf.valueAndGrad((v: tf.Tensor) => volumeDepthCrossEntropy(v, depths, 2, BETA))(volume),
      ];
      for (const { value, grad } of losses) {
        expect(value.dataSync()[0]).toBeCloseTo(Math.log(2), 6);
        expect(Array.from(grad.dataSync()).every(Number.isFinite)).toBe(true);
      }
      tf.dispose([volume, heatmaps, depths, ...losses.flatMap(({ value, grad }) => [value, grad])]);
    });

    it('are 0, not NaN, at β = 3.4028235e38 when the targets sit on each joint’s maximum', () => {
      const [B, S, n, D] = [2, 3, 2, 3];
      const volume = tf.randomNormal([B, S, S, n * D], 0, 1, 'float32', 11);
      const values = volume.dataSync();
      const heatmaps = new Float32Array(B * S * S * n);
      const depths = new Float32Array(B * n);
      for (let b = 0; b < B; b++) {
        for (let j = 0; j < n; j++) {
          let best = 0;
          for (let p = 0; p < S * S * D; p++) {
            const at = (i: number): number => values[(b * S * S + Math.floor(i / D)) * n * D + j * D + (i % D)];
            if (at(p) > at(best)) best = p;
          }
          heatmaps[(b * S * S + Math.floor(best / D)) * n + j] = 1;
          depths[b * n + j] = best % D;
        }
      }
      const t = tf.tensor4d(heatmaps, [B, S, S, n]);
      const z = tf.tensor2d(depths, [B, n]);
      const losses = [
        tf.valueAndGrad((v: tf.Tensor) => volumeScoremapCrossEntropy(v, t, D, FLOAT32_MAX))(volume),
        tf.valueAndGrad((v: tf.Tensor) => volumeDepthCrossEntropy(v, z, D, FLOAT32_MAX))(volume),
      ];
      for (const { value, grad } of losses) {
        expect(Math.abs(value.dataSync()[0])).toBe(0);
        expect(Array.from(grad.dataSync()).every(Number.isFinite)).toBe(true);
      }
      tf.dispose([volume, t, z, ...losses.flatMap(({ value, grad }) => [value, grad])]);
    });
  });
});

describe('the volume terms’ β', () => {
  forEachBackend(() => {
    it('refuse a β that is not a positive normal float32, before making a tensor', () => {
      const volume = tf.zeros([1, 2, 2, 2]);
      const heatmaps = tf.ones([1, 2, 2, 1]);
      const depths = tf.zeros([1, 1]);
      const batch = { uv: tf.fill([1, 21, 2], 30), xyz: tf.fill([1, 21, 3], 500) };
      const target = twStageTargets(batch, { inputSize: 64, heatmapSize: 8, depthBins: 4 });
      const prediction = {
        heatmaps: tf.zeros([1, 8, 8, 6]),
        coords25d: tf.zeros([1, 6, 3]),
        volume: tf.zeros([1, 8, 8, 24]),
      };
      const message = 'beta must be a positive normal float32 (1.1754944e-38 ≤ x ≤ 3.4028235e38), but received';
      for (const beta of [1e39, 1e-40]) {
        const before = tf.memory().numTensors;
        const calls = [
          () => volumeScoremapCrossEntropy(volume, heatmaps, 2, beta),
          () => volumeDepthCrossEntropy(volume, depths, 2, beta),
          () => twStageLoss(target, prediction, { scoremapWeight: 1, depthBins: 4, beta }),
        ];
        for (const call of calls) {
          expect(call).toThrow(PhalanxConfigError);
          expect(call).toThrow(`${message} ${beta}.`);
        }
        expect(tf.memory().numTensors).toBe(before);
      }
      tf.dispose([
        volume,
        heatmaps,
        depths,
        batch.uv,
        batch.xyz,
        ...Object.values(target),
        ...Object.values(prediction),
      ]);
    });
  });
});
