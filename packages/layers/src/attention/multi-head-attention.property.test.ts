/**
 * Property tests of multi-head attention against a float64 reference written from
 * `softmax(Q_h K_hᵀ/√d) V_h` with per-head column blocks (test/reference.ts): random batch, sequence
 * lengths (1 included), input widths, heads and head sizes, biases present or absent; the core, its
 * gradients, and the layer in its self-, shared-key/value and separate key/value forms.
 */
import * as tf from '@tensorflow/tfjs-core';
import { expectClose, forEachBackend, IN_BROWSER } from '@phalanx/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectGradientsMatchReference, type CheckedInput } from '../../test/property-checks';
import { dot, float32Values, mhaReference, uniformStream, type MhaSpec } from '../../test/reference';
import { multiHeadAttention, multiHeadAttentionCore, type MultiHeadAttentionWeights } from './multi-head-attention';

// Tolerances. |inputs|, |weights| ≤ 1 and widths ≤ 9, so projections are ≤ 9 (sums of ≤ 9 products),
// scores ≤ ~27 and outputs ≤ 9·9: float32 rounds each sum to ~6e-8 relative of its terms, giving
// ~1e-5 absolute on the scores (α to ~1e-5 relative) and ~1e-4 on the outputs in the worst case:
// 2e-4 absolute, 1e-4 relative. Gradients against a float64 central difference: 1e-3 both.
const VALUE_TOLERANCE = { rtol: 1e-4, atol: 2e-4 };
const GRADIENT_TOLERANCE = { rtol: 1e-3, atol: 1e-3 };
const RUNS = IN_BROWSER ? 8 : 30;

const cases = fc.record({
  batch: fc.integer({ min: 1, max: 3 }),
  queryLength: fc.integer({ min: 1, max: 4 }),
  keyLength: fc.integer({ min: 1, max: 5 }),
  dq: fc.integer({ min: 1, max: 5 }),
  dk: fc.integer({ min: 1, max: 5 }),
  dv: fc.integer({ min: 1, max: 5 }),
  heads: fc.integer({ min: 1, max: 3 }),
  depth: fc.integer({ min: 1, max: 3 }),
  biases: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
});
type Case = typeof cases extends fc.Arbitrary<infer T> ? T : never;

const KERNELS = ['queryKernel', 'keyKernel', 'valueKernel', 'outputKernel'] as const;
const BIASES = ['queryBias', 'keyBias', 'valueBias', 'outputBias'] as const;

/** Random float32-exact weights `[Wq, Wk, Wv, Wo, bq, bk, bv, bo]` (a bias null when absent). */
function drawWeights(c: Case, next: () => number): (number[] | null)[] {
  const units = c.heads * c.depth;
  const rows = [c.dq, c.dk, c.dv, units];
  const kernels = rows.map((r) => float32Values(next, r * units));
  const biases = c.biases.map((present) => (present ? float32Values(next, units) : null));
  return [...kernels, ...biases];
}

/** The reference spec of a case with weights in {@link drawWeights}' order. */
function specOf(c: Case, w: (number[] | null)[]): MhaSpec {
  const [wq, wk, wv, wo, bq, bk, bv, bo] = w;
  const units = c.heads * c.depth;
  return { ...c, units, wq: wq!, wk: wk!, wv: wv!, wo: wo!, bq, bk, bv, bo };
}

/** The core's weights object from the present weights' tensors, in {@link drawWeights}' order. */
function coreWeights(w: (number[] | null)[], ts: tf.Tensor[]): MultiHeadAttentionWeights {
  let k = 0;
  const named: Record<string, tf.Tensor | null> = {};
  [...KERNELS, ...BIASES].forEach((name, i) => (named[name] = w[i] === null ? null : ts[k++]));
  return named as unknown as MultiHeadAttentionWeights;
}

forEachBackend((backend) => {
  describe(`multiHeadAttentionCore property (${backend})`, () => {
    it('equals float64 multi-head attention, output and α; gradients in inputs and weights', () => {
      fc.assert(
        fc.property(cases, (c) => {
          const { batch, queryLength: tq, keyLength: tk, heads } = c;
          const units = heads * c.depth;
          const next = uniformStream(c.seed);
          const q = float32Values(next, batch * tq * c.dq);
          const k = float32Values(next, batch * tk * c.dk);
          const v = float32Values(next, batch * tk * c.dv);
          const w = drawWeights(c, next);
          const truth = mhaReference(q, k, v, specOf(c, w));
          const shapes = [
            [batch, tq, c.dq],
            [batch, tk, c.dk],
            [batch, tk, c.dv],
          ];
          const weightShapes = [
            [c.dq, units],
            [c.dk, units],
            [c.dv, units],
            [units, units],
            ...BIASES.map(() => [units]),
          ];
          const inputs: CheckedInput[] = [
            ...[q, k, v].map((values, i) => ({ values, shape: shapes[i] })),
            ...w.flatMap((values, i) => (values === null ? [] : [{ values, shape: weightShapes[i] }])),
          ];
          const before = tf.memory().numTensors;
          const ts = inputs.map((i) => tf.tensor(i.values, i.shape));
          const { output, attention } = multiHeadAttentionCore(ts[0], ts[1], ts[2], coreWeights(w, ts.slice(3)), {
            numHeads: heads,
          });
          expectClose(output, { shape: [batch, tq, units], data: truth.output }, VALUE_TOLERANCE, 'output');
          expectClose(attention, { shape: [batch, heads, tq, tk], data: truth.attention }, VALUE_TOLERANCE, 'α');
          tf.dispose([...ts, output, attention]);
          const up = float32Values(next, truth.output.length);
          const upstream = tf.tensor3d(up, [batch, tq, units]);
          const loss = (...xs: tf.Tensor[]): tf.Scalar =>
            tf.sum(
              tf.mul(
                multiHeadAttentionCore(xs[0], xs[1], xs[2], coreWeights(w, xs.slice(3)), { numHeads: heads }).output,
                upstream,
              ),
            );
          const reference = (values: number[][]): number => {
            let m = 3;
            const weights = w.map((x) => (x === null ? null : values[m++]));
            return dot(mhaReference(values[0], values[1], values[2], specOf(c, weights)).output, up);
          };
          expectGradientsMatchReference(loss, inputs, reference, next, GRADIENT_TOLERANCE, 2);
          upstream.dispose();
          expect(tf.memory().numTensors).toBe(before);
        }),
        { seed: 9101, numRuns: RUNS },
      );
    });
  });

  describe(`MultiHeadAttention layer property (${backend})`, () => {
    it('with set weights equals the reference for [query], [query, keyValue] and [query, key, value]', () => {
      fc.assert(
        fc.property(cases, fc.constantFrom(1, 2, 3), (c0, count) => {
          // Self-attention reads keys and values from the query; shared key/value from one tensor.
          const c = { ...c0, biases: [true, true, true, true] };
          if (count === 1) Object.assign(c, { keyLength: c.queryLength, dk: c.dq, dv: c.dq });
          if (count === 2) Object.assign(c, { dv: c.dk });
          const { batch, queryLength: tq, keyLength: tk, heads } = c;
          const units = heads * c.depth;
          const next = uniformStream(c.seed);
          const q = float32Values(next, batch * tq * c.dq);
          const k = count === 1 ? q : float32Values(next, batch * tk * c.dk);
          const v = count === 3 ? float32Values(next, batch * tk * c.dv) : k;
          const w = drawWeights(c, next);
          const layer = multiHeadAttention({ numHeads: heads, units, returnAttention: true });
          const tensors = [
            tf.tensor3d(q, [batch, tq, c.dq]),
            ...(count >= 2 ? [tf.tensor3d(k, [batch, tk, c.dk])] : []),
            ...(count === 3 ? [tf.tensor3d(v, [batch, tk, c.dv])] : []),
          ];
          layer.build(tensors.map((t) => t.shape));
          const rows = [c.dq, c.dk, c.dv, units];
          const weights = KERNELS.flatMap((_, i) => [tf.tensor2d(w[i]!, [rows[i], units]), tf.tensor1d(w[4 + i]!)]);
          layer.setWeights(weights);
          const [output, attention] = layer.apply(count === 1 ? tensors[0] : tensors) as tf.Tensor[];
          const truth = mhaReference(q, k, v, specOf(c, w));
          expectClose(output, truth.output, VALUE_TOLERANCE, `output (${count} inputs)`);
          expectClose(attention, truth.attention, VALUE_TOLERANCE, `α (${count} inputs)`);
          tf.dispose([...tensors, ...weights, output, attention]);
          for (const x of layer.weights) x.dispose();
        }),
        { seed: 9102, numRuns: RUNS },
      );
    });
  });
});
