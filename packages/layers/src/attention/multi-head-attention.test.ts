import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
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
  useBackend,
} from '@phalanx/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import {
  MultiHeadAttention,
  multiHeadAttention,
  type MultiHeadAttentionArgs,
  multiHeadAttentionCore,
} from './multi-head-attention';

const golden = (name: string): GoldenLayerCase =>
  readJson<GoldenLayerCase>(new URL(`../../test/fixtures/${name}`, import.meta.url));

/** Deterministic pseudo-random values in [-1, 1). */
function values(count: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: count }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  });
}
const rand = (shape: number[], seed: number): tf.Tensor =>
  tf.tensor(
    values(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
    shape,
  );

function seedWeights(layer: tfl.layers.Layer, seed: number): void {
  const ws = layer.weights.map((w, i) => rand(w.shape as number[], seed + i));
  layer.setWeights(ws);
  tf.dispose(ws);
}

/** Host loop reference: per sample, per head, per query row. Weights in layer order. */
function naiveAttention(
  q: number[][][],
  k: number[][][],
  v: number[][][],
  w: number[][][] | number[][],
  heads: number,
): number[] {
  const [wq, bq, wk, bk, wv, bv, wo, bo] = w as unknown as [
    number[][],
    number[],
    number[][],
    number[],
    number[][],
    number[],
    number[][],
    number[],
  ];
  const lin = (rows: number[][], kernel: number[][], bias: number[]) =>
    rows.map((row) => bias.map((b, c) => row.reduce((s, x, f) => s + x * kernel[f][c], b)));
  const D = bq.length;
  const d = D / heads;
  const out: number[] = [];
  q.forEach((_, b) => {
    const Q = lin(q[b], wq, bq);
    const K = lin(k[b], wk, bk);
    const V = lin(v[b], wv, bv);
    const concat = Q.map((qi) => {
      const row: number[] = [];
      for (let h = 0; h < heads; h++) {
        const cols = Array.from({ length: d }, (_, u) => h * d + u);
        const e = K.map((kj) => cols.reduce((s, c) => s + qi[c] * kj[c], 0) / Math.sqrt(d));
        const m = Math.max(...e);
        const p = e.map((x) => Math.exp(x - m));
        const z = p.reduce((s, x) => s + x, 0);
        for (const c of cols) row.push(p.reduce((s, pj, j) => s + (pj / z) * V[j][c], 0));
      }
      return row;
    });
    out.push(...lin(concat, wo, bo).flat());
  });
  return out;
}

describe('MultiHeadAttention (backend independent)', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('creates weights in the documented order with the documented shapes', () => {
    const layer = multiHeadAttention({ numHeads: 2, units: 6 });
    layer.build([
      [null, 3, 5],
      [null, 4, 7],
      [null, 4, 9],
    ]);
    expect(layer.weights.map((w) => [w.originalName.split('/').pop(), w.shape])).toEqual([
      ['queryKernel', [5, 6]],
      ['queryBias', [6]],
      ['keyKernel', [7, 6]],
      ['keyBias', [6]],
      ['valueKernel', [9, 6]],
      ['valueBias', [6]],
      ['outputKernel', [6, 6]],
      ['outputBias', [6]],
    ]);
    expect(
      layer.computeOutputShape([
        [null, 3, 5],
        [null, 4, 7],
        [null, 4, 9],
      ]),
    ).toEqual([null, 3, 6]);
    const withAttention = multiHeadAttention({ numHeads: 2, units: 6, returnAttention: true });
    expect(
      withAttention.computeOutputShape([
        [2, 3, 5],
        [2, 4, 7],
      ]),
    ).toEqual([
      [2, 3, 6],
      [2, 2, 3, 4],
    ]);
    expect(withAttention.computeOutputShape([2, 3, 5])).toEqual([
      [2, 3, 6],
      [2, 2, 3, 3],
    ]);
  });

  it('rejects bad configurations with named errors', () => {
    const bad = (args: Partial<MultiHeadAttentionArgs>, message: string) =>
      expect(() => multiHeadAttention({ numHeads: 2, units: 8, ...args } as MultiHeadAttentionArgs)).toThrow(message);
    bad({ numHeads: 0 }, 'MultiHeadAttention: numHeads must be an integer ≥ 1, but received 0.');
    bad({ units: 2.5 }, 'MultiHeadAttention: units must be an integer ≥ 1, but received 2.5.');
    bad({ numHeads: 3 }, 'MultiHeadAttention: units must be divisible by numHeads = 3, but received 8.');
    bad(
      { attentionDropout: -0.1 },
      'MultiHeadAttention: attentionDropout must be a number in [0, 1), but received -0.1.',
    );
    bad(
      { returnAttention: 1 as unknown as boolean },
      'MultiHeadAttention: returnAttention must be a boolean, but received 1.',
    );
  });

  it('rejects bad input shapes with named errors', () => {
    const build = (shape: tfl.Shape | tfl.Shape[]) => () => multiHeadAttention({ numHeads: 2, units: 8 }).build(shape);
    expect(build([null, 8])).toThrow(
      'MultiHeadAttention: query must be of shape [B, T, C] with known C, but received [null, 8].',
    );
    expect(
      build([
        [null, 3, 8],
        [null, 4, null],
      ]),
    ).toThrow('MultiHeadAttention: key must be of shape [B, T, C] with known C, but received [null, 4, null].');
    expect(
      build([
        [null, 3, 8],
        [null, 4, 8],
        [null, 5, 8],
      ]),
    ).toThrow('MultiHeadAttention: value must be [B, Tk, Dv] with Tk = 4 (as key), but received [null, 5, 8].');
    expect(
      build([
        [2, 3, 8],
        [3, 4, 8],
      ]),
    ).toThrow(/MultiHeadAttention: inputs must be the same batch size B/);
    expect(
      build([
        [null, 3, 8],
        [null, 4, 8],
        [null, 4, 8],
        [null, 4, 8],
      ]),
    ).toThrow(
      "MultiHeadAttention: inputs must be [query], [query, keyValue] or [query, key, value], but received '4 tensors'.",
    );
    expect(
      build([
        [null, 3, 8],
        [null, 4, 8],
        [null, 5, 8],
      ]),
    ).toThrow(PhalanxShapeError);
  });
});

forEachBackend(() => {
  describe('MultiHeadAttention: golden, naive loop, gradient and the functional core', () => {
    it('matches the golden cross-attention case (torch.nn.MultiheadAttention)', () => {
      const g = golden('multi_head_attention.cross.json');
      expectLayerMatchesGolden(multiHeadAttention(g.config as unknown as MultiHeadAttentionArgs), g);
    });

    it('equals a naive per-head loop with separate key and value widths', () => {
      const layer = multiHeadAttention({ numHeads: 3, units: 6, returnAttention: true });
      tf.tidy(() => {
        const q = rand([2, 3, 5], 1);
        const k = rand([2, 4, 7], 2);
        const v = rand([2, 4, 2], 3);
        layer.apply([q, k, v]);
        seedWeights(layer, 10);
        const [out, attention] = layer.apply([q, k, v]) as tf.Tensor[];
        const expected = naiveAttention(
          q.arraySync() as number[][][],
          k.arraySync() as number[][][],
          v.arraySync() as number[][][],
          layer.getWeights().map((w) => w.arraySync() as number[][]),
          3,
        );
        expectClose(out, expected, { rtol: 1e-4, atol: 1e-5 }, 'output');
        expect(attention.shape).toEqual([2, 3, 3, 4]);
        expectClose(tf.sum(attention, -1), tf.ones([2, 3, 3]), { rtol: 0, atol: 1e-6 }, 'attention rows sum to 1');
      });
    });

    it('treats [query] as self-attention and [query, keyValue] as key = value', () => {
      const layer = multiHeadAttention({ numHeads: 2, units: 4 });
      tf.tidy(() => {
        const q = rand([2, 3, 4], 5);
        const kv = rand([2, 6, 4], 6);
        layer.apply([q, kv]);
        seedWeights(layer, 20);
        expectClose(layer.apply(q) as tf.Tensor, layer.apply([q, q, q]) as tf.Tensor, { rtol: 0, atol: 0 }, 'self');
        expectClose(
          layer.apply([q]) as tf.Tensor,
          layer.apply([q, q, q]) as tf.Tensor,
          { rtol: 0, atol: 0 },
          'list of one',
        );
        expectClose(
          layer.apply([q, kv]) as tf.Tensor,
          layer.apply([q, kv, kv]) as tf.Tensor,
          { rtol: 0, atol: 0 },
          'cross',
        );
      });
    });

    it('passes a numeric gradient check (inputs and all weights)', () => {
      const up = rand([2, 3, 4], 40);
      const f = (
        q: tf.Tensor,
        k: tf.Tensor,
        v: tf.Tensor,
        wq: tf.Tensor,
        bq: tf.Tensor,
        wk: tf.Tensor,
        wv: tf.Tensor,
        wo: tf.Tensor,
        bo: tf.Tensor,
      ) => {
        const { output, attention } = multiHeadAttentionCore(
          q,
          k,
          v,
          { queryKernel: wq, queryBias: bq, keyKernel: wk, valueKernel: wv, outputKernel: wo, outputBias: bo },
          { numHeads: 2 },
        );
        return tf.add(tf.sum(tf.mul(output, up)), tf.sum(tf.square(attention))) as tf.Scalar;
      };
      const xs = [
        tf.mul(rand([2, 3, 5], 41), 2),
        tf.mul(rand([2, 5, 3], 42), 2),
        rand([2, 5, 6], 43),
        rand([5, 4], 44),
        rand([4], 45),
        rand([3, 4], 46),
        rand([6, 4], 47),
        rand([4, 4], 48),
        rand([4], 49),
      ];
      expectNumericGradient(f, xs, { epsilon: 1e-2, samples: 8 });
      tf.dispose([up, ...xs]);
    });

    it('the functional core checks its options, batches and weights by name, as the layer does', () => {
      const [q, kv] = [tf.zeros([2, 3, 5]), tf.zeros([2, 4, 6])];
      const weights = {
        queryKernel: tf.zeros([5, 4]),
        keyKernel: tf.zeros([6, 4]),
        valueKernel: tf.zeros([6, 4]),
        outputKernel: tf.zeros([4, 4]),
      };
      const before = tf.memory().numTensors;
      const call = (w: object, o: object, query = q, key = kv) =>
        multiHeadAttentionCore(query, key, key, w as typeof weights, { numHeads: 2, ...o });
      const refused: [() => unknown, RegExp][] = [
        [() => call(weights, { attentionDropout: Number.NaN, training: true }), /attentionDropout must be/],
        [() => call(weights, { attentionDropout: -0.5, training: true }), /attentionDropout must be/],
        [() => call(weights, { attentionDropout: 1, training: true }), /attentionDropout must be/],
        [() => call(weights, { training: 'yes' }), /training must be/],
        [() => call(weights, { dropoutSeed: Number.NaN }), /dropoutSeed must be a finite number or a string/],
        [() => call(weights, {}, q, tf.zeros([1, 4, 6])), /key must be \[B, T, C\] with B = 2 \(as query\)/],
        [() => call({}, {}), /outputKernel must be a tensor of shape \[D, D\]/],
        [() => call({ ...weights, outputKernel: tf.zeros([4]) }, {}), /outputKernel must be of shape \[D, D\]/],
        [() => call({ ...weights, queryKernel: tf.zeros([3, 4]) }, {}), /queryKernel must be of shape \[5, 4\]/],
        [() => call({ ...weights, valueBias: tf.zeros([3]) }, {}), /valueBias must be of shape \[4\]/],
      ];
      for (const [f, message] of refused) expect(f, String(message)).toThrow(message);
      expect(tf.memory().numTensors).toBe(before + 4); // the four malformed tensors made above, nothing else
      const { output } = call(weights, { attentionDropout: 0.5 });
      expect(output.shape).toEqual([2, 3, 4]);
    });
  });
});

forEachBackend(() => {
  describe('MultiHeadAttention: dropout, config round trip, save and leaks', () => {
    it('attention dropout acts in training only', () => {
      const layer = multiHeadAttention({ numHeads: 2, units: 4, attentionDropout: 0.5, returnAttention: true });
      tf.tidy(() => {
        const q = rand([2, 3, 4], 50);
        const kv = rand([2, 6, 4], 51);
        layer.apply([q, kv]);
        seedWeights(layer, 52);
        const [a] = layer.apply([q, kv]) as tf.Tensor[];
        const [b] = layer.apply([q, kv], { training: false }) as tf.Tensor[];
        expectClose(b, a, { rtol: 0, atol: 0 }, 'inference is deterministic');
        const [c, attention] = layer.apply([q, kv], { training: true }) as tf.Tensor[];
        expect(tf.max(tf.abs(tf.sub(c, a))).dataSync()[0]).toBeGreaterThan(1e-4);
        expectClose(tf.sum(attention, -1), tf.ones([2, 2, 3]), { rtol: 0, atol: 1e-6 }, 'α before dropout');
      });
    });

    it('survives a getConfig round trip', () => {
      expectConfigRoundTrip(multiHeadAttention({ numHeads: 2, units: 8 }));
      expectConfigRoundTrip(
        multiHeadAttention({ numHeads: 4, units: 16, attentionDropout: 0.1, returnAttention: true, name: 'mha_x' }),
      );
    });

    it('saves to disk and reloads with identical outputs', async () => {
      const cross = modelAround(multiHeadAttention({ numHeads: 2, units: 4, returnAttention: true }), [
        [3, 5],
        [6, 7],
      ]);
      const q = rand([2, 3, 5], 60);
      const kv = rand([2, 6, 7], 61);
      const loaded = await expectSaveLoadIdentical(cross, [q, kv]);
      expect(loaded.layers[2]).toBeInstanceOf(MultiHeadAttention);
      const self = modelAround(multiHeadAttention({ numHeads: 2, units: 4 }), [[3, 5]]);
      await expectSaveLoadIdentical(self, [q]);
      tf.dispose([q, kv]);
    });

    it('does not leak tensors in predict or training steps', async () => {
      const q = rand([2, 3, 5], 70);
      const k = rand([2, 6, 7], 71);
      const v = rand([2, 6, 3], 72);
      await expectNoLeakInPredictAndTrain(
        modelAround(multiHeadAttention({ numHeads: 2, units: 4, attentionDropout: 0.2 }), [
          [3, 5],
          [6, 7],
          [6, 3],
        ]),
        [q, k, v],
      );
      tf.dispose([q, k, v]);
    });
  });
});

describe('MultiHeadAttention seeded attention dropout (dropoutSeed)', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  /** A built self-attention layer with deterministic weights. */
  const seededMha = (args: Partial<MultiHeadAttentionArgs>): MultiHeadAttention => {
    const layer = multiHeadAttention({ numHeads: 2, units: 4, attentionDropout: 0.5, ...args });
    layer.build([null, 6, 5]);
    seedWeights(layer, 30);
    return layer;
  };
  /** One call's output on a fixed input, as host values. */
  const draw = (layer: MultiHeadAttention, training = true): number[] =>
    tf.tidy(() => Array.from((layer.apply(rand([2, 6, 5], 31), { training }) as tf.Tensor).dataSync()));

  it('same seed ⇒ the same masks in two fresh layers; successive calls and other seeds differ', () => {
    const a = seededMha({ dropoutSeed: 17 });
    const b = seededMha({ dropoutSeed: 17 });
    const [a0, a1] = [draw(a), draw(a)];
    expect([draw(b), draw(b)]).toEqual([a0, a1]);
    expect(a1).not.toEqual(a0);
    expect(draw(seededMha({ dropoutSeed: 18 }))).not.toEqual(a0);
    expect(a.getNoiseState()).toEqual({ seed: 17, calls: 2 });
  });

  it('save/restore of the noise state continues the stream exactly; inference draws nothing', () => {
    const a = seededMha({ dropoutSeed: 3 });
    const inference = draw(a, false);
    draw(a);
    const saved = a.getNoiseState();
    const next = draw(a);
    const b = seededMha({ dropoutSeed: 3 });
    b.setNoiseState(saved);
    expect(draw(b)).toEqual(next);
    expect(draw(seededMha({}), false)).toEqual(inference);
    expect(draw(b, false)).toEqual(inference);
    expect(b.getNoiseState().calls).toBe(2);
  });

  it('refuses bad seeds and noise states with named errors', () => {
    for (const bad of [1.5, '3', Number.POSITIVE_INFINITY]) {
      expect(() => multiHeadAttention({ numHeads: 1, units: 2, dropoutSeed: bad as number })).toThrow(
        new PhalanxConfigError('MultiHeadAttention', 'dropoutSeed', 'an integer or null', bad),
      );
    }
    const layer = multiHeadAttention({ numHeads: 1, units: 2, dropoutSeed: 4 });
    expect(() => layer.setNoiseState({ calls: 1.5 })).toThrow(PhalanxConfigError);
    expect(() => layer.setNoiseState({ calls: 0, seed: null })).toThrow(
      "MultiHeadAttention: noise state seed must be this layer's seed (4), but received null.",
    );
  });

  it('serialises dropoutSeed only when set, and a saved model keeps it', async () => {
    expect(multiHeadAttention({ numHeads: 1, units: 2 }).getConfig()).not.toHaveProperty('dropoutSeed');
    expectConfigRoundTrip(multiHeadAttention({ numHeads: 2, units: 4, attentionDropout: 0.1, dropoutSeed: 9 }));
    const model = modelAround(multiHeadAttention({ numHeads: 2, units: 4, attentionDropout: 0.3, dropoutSeed: 9 }), [
      [3, 5],
    ]);
    const q = rand([2, 3, 5], 40);
    const loaded = await expectSaveLoadIdentical(model, [q]);
    expect((loaded.layers[1] as MultiHeadAttention).getNoiseState()).toEqual({ seed: 9, calls: 0 });
    q.dispose();
  });

  it('does not leak tensors in seeded training steps', async () => {
    const q = rand([2, 3, 5], 41);
    await expectNoLeakInPredictAndTrain(
      modelAround(multiHeadAttention({ numHeads: 2, units: 4, attentionDropout: 0.2, dropoutSeed: 2 }), [[3, 5]]),
      [q],
    );
    q.dispose();
  });
});
