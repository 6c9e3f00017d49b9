/**
 * Property tests of DynamicEdgeGAT against a float64 dense graph attention written from EHPE Eq. 8–9 and
 * PyG's GATConv (test/reference.ts): random joints (one included), features, heads, units, both score
 * forms, concatenated or averaged heads, shared, per-sample, k-nearest and hop neighbourhoods.
 */
import * as tf from '@tensorflow/tfjs-core';
import { expectClose, forEachBackend, IN_BROWSER } from '@phalanx/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectGradientsMatchReference, type CheckedInput } from '../../test/property-checks';
import {
  dot,
  float32Values,
  gatReference,
  hopMaskReference,
  knnMaskReference,
  uniformStream,
  type GatSpec,
} from '../../test/reference';
import {
  dynamicEdgeGAT,
  dynamicEdgeGATCore,
  knnNeighborhoodMask,
  type DynamicEdgeGATWeights,
} from './dynamic-edge-gat';

// Tolerances. |x|, |weights| ≤ 1 and F ≤ 5, so |Wh| ≤ 5 and scores ≤ ~15; float32 rounds the scores to
// ~1e-6 absolute, which moves α by ~1e-6 relative, and out = Σ_j α·Wh (J ≤ 6 terms ≤ 5) by ~3e-5 at
// worst: 5e-5 absolute, 1e-4 relative. Gradients (sums of the same size) against a float64 central
// difference (~1e-9): 3e-4 absolute, 1e-3 relative.
const VALUE_TOLERANCE = { rtol: 1e-4, atol: 5e-5 };
const GRADIENT_TOLERANCE = { rtol: 1e-3, atol: 3e-4 };
const RUNS = IN_BROWSER ? 8 : 40;

const cases = fc.record({
  batch: fc.integer({ min: 1, max: 3 }),
  joints: fc.integer({ min: 1, max: 6 }),
  features: fc.integer({ min: 3, max: 5 }),
  heads: fc.integer({ min: 1, max: 3 }),
  units: fc.integer({ min: 1, max: 3 }),
  additive: fc.boolean(),
  concat: fc.boolean(),
  bias: fc.boolean(),
  slope: fc.constantFrom(0.2, 0.01, 1),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
});
type Case = typeof cases extends fc.Arbitrary<infer T> ? T : never;

/** Random weights of a case, as float32-exact arrays, in the layer's weight order. */
function drawWeights(c: Case, next: () => number) {
  const width = c.heads * c.units;
  const kernel = float32Values(next, c.features * width);
  const first = float32Values(next, c.additive ? width : c.features * width);
  const second = float32Values(next, c.additive ? width : c.features * width);
  const bias = c.bias ? float32Values(next, c.concat ? width : c.units) : null;
  const attentionShape = c.additive ? [c.heads, c.units] : [c.features, width];
  const inputs: CheckedInput[] = [
    { values: kernel, shape: [c.features, width] },
    { values: first, shape: attentionShape },
    { values: second, shape: attentionShape },
    ...(bias ? [{ values: bias, shape: [bias.length] }] : []),
  ];
  return { kernel, first, second, bias, inputs };
}

/** The reference's spec for a case, its weights and a mask. */
function specOf(c: Case, w: ReturnType<typeof drawWeights>, mask: number[]): GatSpec {
  return {
    ...c,
    mask,
    kernel: w.kernel,
    aSelf: w.first,
    aNeighbor: w.second,
    queryKernel: w.first,
    keyKernel: w.second,
    bias: w.bias,
  };
}

/** The core's weights object from tensors in the layer's order. */
function coreWeights(c: Case, ts: tf.Tensor[]): DynamicEdgeGATWeights {
  const [kernel, first, second, bias] = ts;
  const named = c.additive
    ? { attentionSelf: first, attentionNeighbor: second }
    : { queryKernel: first, keyKernel: second };
  return { kernel, ...named, bias: bias ?? null };
}

/** A random symmetric 0/1 adjacency without self loops. */
function randomAdjacency(joints: number, next: () => number): number[][] {
  const a = Array.from({ length: joints }, () => new Array<number>(joints).fill(0));
  for (let i = 0; i < joints; i++) {
    for (let j = i + 1; j < joints; j++) if (next() < 0.4) a[i][j] = a[j][i] = 1;
  }
  return a;
}

forEachBackend((backend) => {
  describe(`dynamicEdgeGATCore property (${backend})`, () => {
    it('equals float64 masked graph attention (shared, per-sample and knn masks), gradients included', () => {
      const forms = fc.constantFrom('shared', 'perSample', 'knn');
      fc.assert(
        fc.property(cases, forms, (c, form) => {
          const { batch, joints, features, heads, units } = c;
          const next = uniformStream(c.seed);
          const x = float32Values(next, batch * joints * features);
          const w = drawWeights(c, next);
          const useKnn = form === 'knn' && joints > 1;
          const k = 1 + Math.floor(next() * (joints - 1));
          const maskCount = form === 'perSample' ? batch * joints * joints : joints * joints;
          const drawn = Array.from({ length: maskCount }, (_, n) => (n % (joints + 1) === 0 || next() < 0.5 ? 1 : 0));
          // Per sample: make every block's diagonal 1 (self included), as the core's contract says.
          const given = drawn.map((v, n) => (Math.floor((n % (joints * joints)) / joints) === n % joints ? 1 : v));
          const mask = useKnn ? knnMaskReference(x, batch, joints, features, k) : given;
          const spec = specOf(c, w, mask);
          const truth = gatReference(x, spec);
          const before = tf.memory().numTensors;
          const xShape = [batch, joints, features];
          const neighborhood = useKnn
            ? undefined
            : tf.tensor(given, form === 'perSample' ? [batch, joints, joints] : [joints, joints]);
          const options = {
            heads,
            attention: c.additive ? 'additive' : 'dotProduct',
            concatHeads: c.concat,
            negativeSlope: c.slope,
            ...(useKnn ? { knn: k } : { neighborhood }),
          } as const;
          const xt = tf.tensor(x, xShape);
          const ws = w.inputs.map((i) => tf.tensor(i.values, i.shape));
          const { output, attention } = dynamicEdgeGATCore(xt, coreWeights(c, ws), options);
          const outShape = [batch, joints, c.concat ? heads * units : units];
          expectClose(output, { shape: outShape, data: truth.output }, VALUE_TOLERANCE, 'output');
          expectClose(
            attention,
            { shape: [batch, heads, joints, joints], data: truth.attention },
            VALUE_TOLERANCE,
            'α',
          );
          tf.dispose([xt, ...ws, output, attention]);
          const up = float32Values(next, truth.output.length);
          const upstream = tf.tensor(up, outShape);
          const loss = (xv: tf.Tensor, ...wv: tf.Tensor[]): tf.Scalar =>
            tf.sum(tf.mul(dynamicEdgeGATCore(xv, coreWeights(c, wv), options).output, upstream));
          const reference = ([xv, kernel, first, second, bias]: number[][]): number => {
            const m = useKnn ? knnMaskReference(xv, batch, joints, features, k) : given;
            return dot(gatReference(xv, specOf(c, { ...w, kernel, first, second, bias: bias ?? null }, m)).output, up);
          };
          const inputs = [{ values: x, shape: xShape }, ...w.inputs];
          expectGradientsMatchReference(loss, inputs, reference, next, GRADIENT_TOLERANCE, 2);
          tf.dispose([upstream, ...(neighborhood ? [neighborhood] : [])]);
          expect(tf.memory().numTensors).toBe(before);
        }),
        { seed: 6201, numRuns: RUNS },
      );
    });

    it('knnNeighborhoodMask marks i and its k nearest joints by the first three features, lower index first on ties', () => {
      fc.assert(
        fc.property(cases, fc.boolean(), (c, duplicates) => {
          const joints = Math.max(c.joints, 2);
          const next = uniformStream(c.seed);
          // With duplicates, every joint copies one of two points: many exactly equal distances.
          const base = float32Values(next, 2 * c.features);
          const x = duplicates
            ? Array.from({ length: c.batch * joints }, () =>
                next() < 0.5 ? base.slice(0, c.features) : base.slice(c.features),
              ).flat()
            : float32Values(next, c.batch * joints * c.features);
          const k = 1 + Math.floor(next() * (joints - 1));
          const xt = tf.tensor3d(x, [c.batch, joints, c.features]);
          const mask = knnNeighborhoodMask(xt, k);
          expectClose(mask, knnMaskReference(x, c.batch, joints, c.features, k), { rtol: 0, atol: 0 }, 'knn mask');
          tf.dispose([xt, mask]);
        }),
        { seed: 6202, numRuns: RUNS },
      );
    });
  });

  describe(`DynamicEdgeGAT layer property (${backend})`, () => {
    it('with set weights equals the reference on a random graph’s hop neighbourhood or knn, then the activation', () => {
      const extras = fc.record({
        hops: fc.constantFrom(1 as const, 2 as const),
        relu: fc.boolean(),
        knn: fc.boolean(),
      });
      fc.assert(
        fc.property(cases, extras, (c, e) => {
          const { batch, joints, features, heads, units } = c;
          const next = uniformStream(c.seed);
          const adjacency = randomAdjacency(joints, next);
          const knn = e.knn && joints > 1;
          const k = 1 + Math.floor(next() * (joints - 1));
          const layer = dynamicEdgeGAT({
            ...(knn ? { neighborhood: 'knn' as const, k } : {}),
            units,
            heads,
            adjacency,
            hops: e.hops,
            attention: c.additive ? 'additive' : 'dotProduct',
            concatHeads: c.concat,
            negativeSlope: c.slope,
            useBias: c.bias,
            activation: e.relu ? 'relu' : 'linear',
            returnAttention: true,
          });
          layer.build([null, joints, features]);
          const w = drawWeights(c, next);
          const weights = w.inputs.map((i) => tf.tensor(i.values, i.shape));
          layer.setWeights(weights);
          const x = float32Values(next, batch * joints * features);
          const xt = tf.tensor3d(x, [batch, joints, features]);
          const [output, attention] = layer.apply(xt) as tf.Tensor[];
          const mask = knn ? knnMaskReference(x, batch, joints, features, k) : hopMaskReference(adjacency, e.hops);
          const truth = gatReference(x, specOf(c, w, mask));
          const activated = truth.output.map((v) => (e.relu ? Math.max(v, 0) : v));
          expectClose(output, activated, VALUE_TOLERANCE, 'output');
          expectClose(attention, truth.attention, VALUE_TOLERANCE, 'α');
          tf.dispose([...weights, xt, output, attention]);
          for (const v of layer.weights) v.dispose();
        }),
        { seed: 6203, numRuns: RUNS },
      );
    });
  });
});
