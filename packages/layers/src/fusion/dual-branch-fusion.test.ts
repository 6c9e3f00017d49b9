import * as tf from '@tensorflow/tfjs-core';
import {
  expectClose,
  expectConfigRoundTrip,
  expectLayerMatchesGolden,
  expectNoLeakInPredictAndTrain,
  expectNumericGradient,
  expectSaveLoadIdentical,
  forEachBackend,
  modelAround,
  readJson,
  type GoldenLayerCase,
} from '@phalanx/testing';
import { describe, expect, it } from 'vitest';
import { PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import {
  DualBranchFusion,
  dualBranchFusion,
  dualBranchFusionCore,
  type DualBranchFusionArgs,
} from './dual-branch-fusion';

const golden = readJson<GoldenLayerCase>(new URL('../../test/fixtures/dual_branch_fusion.json', import.meta.url));

/** Plain-JS Eq. 11: out[b][i][c] = Σ_k Ws[i][k]·S[b][k][c] + (vector: Wv[i]·V[b][i][c] | matrix: Σ_k Wv[i][k]·V[b][k][c]). */
function reference(S: number[][][], V: number[][][], Ws: number[][], Wv: number[][]): number[] {
  const out: number[] = [];
  S.forEach((Sb, b) =>
    Sb.forEach((row, i) =>
      row.forEach((_, c) => {
        let acc = 0;
        for (let k = 0; k < Sb.length; k++) acc += Ws[i][k] * Sb[k][c];
        if (Wv[0].length === 1) acc += Wv[i][0] * V[b][i][c];
        else for (let k = 0; k < Sb.length; k++) acc += Wv[i][k] * V[b][k][c];
        out.push(acc);
      }),
    ),
  );
  return out;
}

forEachBackend(() => {
  describe('DualBranchFusion', () => {
    it('matches the golden case (vector visual weight): outputs, input and weight gradients', () => {
      const layer = dualBranchFusion(golden.config as unknown as DualBranchFusionArgs);
      expectLayerMatchesGolden(layer, golden);
      expect(layer.weights.map((w) => w.name.split('/').pop())).toEqual(['structuralWeight', 'visualWeight']);
    });

    it('starts as structural + visual (identity and ones / identity)', () => {
      for (const visualWeight of ['vector', 'matrix'] as const) {
        const layer = dualBranchFusion({ numJoints: 4, visualWeight });
        const s = tf.randomNormal([2, 4, 3], 0, 1, 'float32', 1);
        const v = tf.randomNormal([2, 4, 3], 0, 1, 'float32', 2);
        const out = layer.apply([s, v]) as tf.Tensor;
        expect(layer.weights.map((w) => w.shape)).toEqual([[4, 4], visualWeight === 'vector' ? [4, 1] : [4, 4]]);
        expectClose(out, tf.add(s, v), { rtol: 1e-6, atol: 1e-6 }, visualWeight);
        tf.dispose([s, v, out]);
      }
    });

    it('matrix visual weight: matches a plain-JS Eq. 11 with random weights', () => {
      const layer = dualBranchFusion({ numJoints: 3, visualWeight: 'matrix' });
      const s = tf.randomNormal([2, 3, 4], 0, 1, 'float32', 3);
      const v = tf.randomNormal([2, 3, 4], 0, 1, 'float32', 4);
      layer.apply([s, v]);
      const ws = tf.randomNormal([3, 3], 0, 1, 'float32', 5);
      const wv = tf.randomNormal([3, 3], 0, 1, 'float32', 6);
      layer.setWeights([ws, wv]);
      const out = layer.apply([s, v]) as tf.Tensor;
      const expected = reference(
        s.arraySync() as number[][][],
        v.arraySync() as number[][][],
        ws.arraySync() as number[][],
        wv.arraySync() as number[][],
      );
      expectClose(out, { shape: [2, 3, 4], data: expected }, { rtol: 1e-5, atol: 1e-5 }, 'matrix fusion');
      tf.dispose([s, v, ws, wv, out]);
    });

    it('has numerically correct gradients for inputs and both weight forms', () => {
      const s = tf.randomNormal([2, 3, 2], 0, 1, 'float32', 7);
      const v = tf.randomNormal([2, 3, 2], 0, 1, 'float32', 8);
      const ws = tf.randomNormal([3, 3], 0, 1, 'float32', 9);
      const up = tf.randomNormal([2, 3, 2], 0, 1, 'float32', 10);
      for (const wv of [tf.randomNormal([3, 1], 0, 1, 'float32', 11), tf.randomNormal([3, 3], 0, 1, 'float32', 12)]) {
        const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor): tf.Scalar =>
          tf.sum(tf.mul(dualBranchFusionCore(a, b, c, d), up));
        expectNumericGradient(f, [s, v, ws, wv], { samples: 6 });
        wv.dispose();
      }
      tf.dispose([s, v, ws, up]);
    });

    it('round-trips its config', () => {
      expectConfigRoundTrip(dualBranchFusion({ numJoints: 21 }));
      expectConfigRoundTrip(dualBranchFusion({ numJoints: 6, visualWeight: 'matrix', name: 'fuse' }));
    });

    it('in a model: save → load gives identical outputs; no leaks in predict and training', async () => {
      for (const visualWeight of ['vector', 'matrix'] as const) {
        const layer = dualBranchFusion({ numJoints: 5, visualWeight });
        const model = modelAround(layer, [
          [5, 3],
          [5, 3],
        ]);
        layer.setWeights([
          tf.randomNormal([5, 5], 0, 1, 'float32', 13),
          tf.randomNormal(layer.weights[1].shape as number[], 0, 1, 'float32', 14),
        ]);
        const s = tf.randomNormal([2, 5, 3], 0, 1, 'float32', 15);
        const v = tf.randomNormal([2, 5, 3], 0, 1, 'float32', 16);
        const loaded = await expectSaveLoadIdentical(model, [s, v]);
        expect(loaded.layers.some((l) => l instanceof DualBranchFusion)).toBe(true);
        await expectNoLeakInPredictAndTrain(model, [s, v]);
        tf.dispose([s, v]);
      }
    });
  });
});

describe('DualBranchFusion validation', () => {
  it.each([
    [{ numJoints: 0 }, 'DualBranchFusion: numJoints must be an integer ≥ 1, but received 0.'],
    [{ numJoints: 2.5 }, 'DualBranchFusion: numJoints must be an integer ≥ 1, but received 2.5.'],
    [
      { numJoints: 21, visualWeight: 'diagonal' as never },
      "DualBranchFusion: visualWeight must be one of 'vector', 'matrix', but received 'diagonal'.",
    ],
  ])('rejects config %j', (config, message) => {
    expect(() => dualBranchFusion(config)).toThrow(PhalanxConfigError);
    expect(() => dualBranchFusion(config)).toThrow(message);
  });

  it('rejects inputs with the wrong joint count, mismatched channels or a single input', () => {
    const layer = dualBranchFusion({ numJoints: 21 });
    expect(() =>
      layer.build([
        [null, 20, 8],
        [null, 20, 8],
      ]),
    ).toThrow('DualBranchFusion: structural shape must be [B, numJoints = 21, C], but received [null, 20, 8].');
    expect(() =>
      layer.build([
        [null, 21, 8],
        [null, 21, 4],
      ]),
    ).toThrow('DualBranchFusion: visual shape must be the structural shape [null,21,8], but received [null, 21, 4].');
    expect(() => layer.build([null, 21, 8])).toThrow(PhalanxShapeError);
    expect(() => layer.build([null, 21, 8])).toThrow(
      'DualBranchFusion: inputs must be a list [structural, visual] of two tensors, but received [null, 21, 8].',
    );
  });

  it('the functional core rejects weights of the wrong shape', () => {
    const s = tf.zeros([1, 3, 2]);
    const ws = tf.eye(3);
    const bad = tf.ones([3, 2]);
    expect(() => dualBranchFusionCore(s, s, ws, bad)).toThrow(
      'dualBranchFusionCore: visualWeight must be [3, 1] or [3, 3], but received [3, 2].',
    );
    expect(() => dualBranchFusionCore(s, s, bad, bad)).toThrow(
      'dualBranchFusionCore: structuralWeight must be [J, J] = [3, 3], but received [3, 2].',
    );
    tf.dispose([s, ws, bad]);
  });
});
