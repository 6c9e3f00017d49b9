/**
 * Contracts every Phalanx layer keeps, tried on every layer with the same hostile values:
 *
 * - `new Layer(null)` (and other non-objects) is a `PhalanxConfigError` naming the class, not a TypeError;
 * - a configuration value is accepted only if it is usable where it is used: sizes are integers up to
 *   `MAX_SIZE`, float32 values stay finite in float32, temperatures and β stay > 0 and normal in float32;
 *   an accepted configuration gives finite outputs;
 * - every error a layer throws — at construction, at build, when applied to tensors or symbolic tensors of
 *   the wrong shape or count, from the functional core it calls — names the layer class, and leaks no
 *   tensor.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { forEachBackend, thrownBy } from '@phalanx/testing';
import { describe, expect, it } from 'vitest';
import { FLOAT32_MAX, FLOAT32_MIN_NORMAL, PhalanxConfigError } from '@phalanx/errors';
import { MultiHeadAttention } from '../attention/multi-head-attention';
import { DualBranchFusion } from '../fusion/dual-branch-fusion';
import { GroupFusion } from '../fusion/group-fusion';
import { DynamicEdgeGAT } from '../graph/dynamic-edge-gat';
import { JointFeatureSampler } from '../keypoints/joint-feature-sampler';
import { SoftArgmax25D } from '../keypoints/soft-argmax-25d';
import { ConcreteJointSelector } from '../selector/concrete-joint-selector';
import { ChannelAffine } from '../normalization/channel-affine';
import { ResizeBilinear } from '../spatial/resize-bilinear';
import { MAX_ELEMENTS, MAX_SIZE } from './checks';

type AnyLayer = tfl.layers.Layer;
type LayerClass = new (args: never) => AnyLayer;

/** What a configuration value must be once the constructor has accepted it. */
type Kind =
  | { size: number } // an integer in [size, MAX_SIZE]
  | 'positiveFloat32'
  | 'float32'
  | 'rate'
  | 'boolean'
  | { oneOf: readonly unknown[] };

interface LayerSpec {
  label: string;
  cls: LayerClass;
  /** A valid configuration. */
  args: Record<string, unknown>;
  /** Shapes of valid inputs (batch included). */
  inputs: number[][];
  /** The arguments to attack, with what an accepted value must be (read back from `getConfig()`). */
  fields: Record<string, Kind>;
  /** Config key under which `getConfig()` stores a field, when it differs. */
  configKey?: Record<string, string>;
}

const path3 = [
  [0, 1, 0],
  [1, 0, 1],
  [0, 1, 0],
];

const SPECS: LayerSpec[] = [
  {
    label: 'ConcreteJointSelector',
    cls: ConcreteJointSelector,
    args: { numJoints: 4, numGroups: 3 },
    inputs: [[2, 3, 4, 2]],
    fields: {
      numJoints: { size: 1 },
      numGroups: { size: 2 },
      initialTemperature: 'positiveFloat32',
      straightThrough: 'boolean',
      inferenceMode: { oneOf: ['hard', 'soft'] },
    },
  },
  {
    label: 'GroupFusion',
    cls: GroupFusion,
    args: { numGroups: 2 },
    inputs: [
      [1, 3, 3, 4],
      [1, 3, 3, 4],
    ],
    fields: { numGroups: { size: 2 }, selfWeight: 'float32', otherWeight: 'float32', useBias: 'boolean' },
  },
  {
    label: 'SoftArgmax25D (volumetric)',
    cls: SoftArgmax25D,
    args: { numJoints: 2, depthBins: 3 },
    inputs: [[1, 4, 4, 6]],
    fields: {
      numJoints: { size: 1 },
      depthBins: { size: 2 },
      beta: 'positiveFloat32',
      trainableBeta: 'boolean',
      coordinates: { oneOf: ['pixel', 'normalized'] },
      returnProbabilities: 'boolean',
      mode: { oneOf: ['volumetric', 'latent'] },
    },
  },
  {
    label: 'SoftArgmax25D (latent)',
    cls: SoftArgmax25D,
    args: { mode: 'latent', numJoints: 2, trainableBeta: true },
    inputs: [
      [1, 4, 5, 2],
      [1, 4, 5, 2],
    ],
    fields: { numJoints: { size: 1 }, beta: 'positiveFloat32' },
  },
  {
    label: 'DynamicEdgeGAT (skeleton)',
    cls: DynamicEdgeGAT,
    args: { units: 2, heads: 2, adjacency: path3, returnAttention: true },
    inputs: [[1, 3, 4]],
    fields: {
      units: { size: 1 },
      heads: { size: 1 },
      hops: { oneOf: [1, 2] },
      negativeSlope: 'float32',
      attentionDropout: 'rate',
      concatHeads: 'boolean',
      useBias: 'boolean',
      attention: { oneOf: ['additive', 'dotProduct'] },
    },
  },
  {
    label: 'DynamicEdgeGAT (knn)',
    cls: DynamicEdgeGAT,
    args: { units: 2, heads: 1, neighborhood: 'knn', k: 2, attention: 'dotProduct' },
    inputs: [[2, 4, 3]],
    fields: { k: { size: 1 } },
  },
  {
    label: 'DualBranchFusion',
    cls: DualBranchFusion,
    args: { numJoints: 3 },
    inputs: [
      [1, 3, 2],
      [1, 3, 2],
    ],
    fields: { numJoints: { size: 1 }, visualWeight: { oneOf: ['vector', 'matrix'] } },
  },
  {
    label: 'JointFeatureSampler',
    cls: JointFeatureSampler,
    args: {},
    inputs: [
      [1, 4, 4, 2],
      [1, 3, 2],
    ],
    fields: {},
  },
  {
    label: 'MultiHeadAttention',
    cls: MultiHeadAttention,
    args: { numHeads: 2, units: 4, returnAttention: true },
    inputs: [
      [1, 3, 4],
      [1, 5, 6],
    ],
    fields: { numHeads: { size: 1 }, units: { size: 1 }, attentionDropout: 'rate', returnAttention: 'boolean' },
  },
  {
    label: 'ResizeBilinear',
    cls: ResizeBilinear,
    args: { height: 3, width: 5 },
    inputs: [[1, 4, 4, 2]],
    fields: { height: { size: 1 }, width: { size: 1 }, alignCorners: 'boolean' },
  },
  {
    label: 'ChannelAffine',
    cls: ChannelAffine,
    args: { activation: 'relu' },
    inputs: [[1, 4, 4, 2]],
    fields: { activation: { oneOf: ['linear', 'relu'] } },
  },
];

/** Values a careless or hostile caller may pass for any argument. */
const HOSTILE: unknown[] = [
  undefined,
  null,
  Number.NaN,
  Infinity,
  -Infinity,
  0,
  -0,
  -1,
  0.5,
  1.5,
  1e-50,
  1e-39,
  1e39,
  -1e39,
  MAX_SIZE + 1,
  2 ** 53,
  '3',
  true,
  {},
  [],
];

/** Non-objects in place of the argument object. */
const NOT_ARGS: unknown[] = [null, 5, 'args', true, [], undefined];

function className(spec: LayerSpec): string {
  return (spec.cls as unknown as { className: string }).className;
}

/** Asserts `error` is a named error of `spec`'s class: a message starting with `Class:`. */
function expectNamed(spec: LayerSpec, error: unknown, what: string): void {
  expect(error, what).toBeInstanceOf(Error);
  expect((error as Error).message.startsWith(`${className(spec)}:`), `${what}: ${(error as Error).message}`).toBe(true);
  expect(error, what).not.toBeInstanceOf(TypeError);
}

/** Does an accepted `value` satisfy `kind`? */
function satisfies(kind: Kind, value: unknown): boolean {
  if (kind === 'positiveFloat32') {
    return typeof value === 'number' && Math.fround(value) >= FLOAT32_MIN_NORMAL && Math.fround(value) <= FLOAT32_MAX;
  }
  if (kind === 'float32') return typeof value === 'number' && Number.isFinite(Math.fround(value));
  if (kind === 'rate') return typeof value === 'number' && value >= 0 && value < 1;
  if (kind === 'boolean') return typeof value === 'boolean';
  if ('size' in kind) {
    return typeof value === 'number' && Number.isInteger(value) && value >= kind.size && value <= MAX_SIZE;
  }
  return kind.oneOf.includes(value);
}

function tensors(shapes: number[][], seed: number): tf.Tensor[] {
  return shapes.map((shape, i) => tf.add(tf.randomUniform(shape, 0, 3, 'float32', seed + i), 0.5));
}

function applyTo(layer: AnyLayer, xs: tf.Tensor[]): tf.Tensor[] {
  const out = layer.apply(xs.length === 1 ? xs[0] : xs) as tf.Tensor | tf.Tensor[];
  return Array.isArray(out) ? out : [out];
}

/** Shapes that are wrong in one respect: a rank more or less, one dimension other, one input more or less. */
function wrongShapes(shapes: number[][]): number[][][] {
  const variants: number[][][] = [];
  shapes.forEach((shape, i) => {
    const replace = (s: number[]) => shapes.map((t, k) => (k === i ? s : t));
    variants.push(replace(shape.slice(0, -1)), replace([...shape, 1]));
    shape.forEach((d, axis) => variants.push(replace(shape.map((e, k) => (k === axis ? d + 1 : e)))));
  });
  variants.push([...shapes, shapes[shapes.length - 1]]);
  if (shapes.length > 1) variants.push(shapes.slice(0, -1));
  return variants;
}

describe('argument objects', () => {
  for (const spec of SPECS.filter((s, i) => SPECS.findIndex((t) => t.cls === s.cls) === i)) {
    it(`${className(spec)}: ${NOT_ARGS.length} non-objects give a PhalanxConfigError naming the class`, () => {
      for (const args of NOT_ARGS) {
        if (args === undefined && (spec.cls === JointFeatureSampler || spec.cls === ChannelAffine)) continue; // optional
        const error = thrownBy(() => new spec.cls(args as never));
        expect(error, String(args)).toBeInstanceOf(PhalanxConfigError);
        expectNamed(spec, error, `new ${className(spec)}(${JSON.stringify(args)})`);
      }
    });
  }
});

describe('configuration values', () => {
  for (const spec of SPECS) {
    const names = Object.keys(spec.fields);
    if (names.length === 0) continue;
    const count = names.length * HOSTILE.length;
    it(`${spec.label}: ${count} hostile values are refused by name or usable as given`, () => {
      let refused = 0;
      for (const name of names) {
        for (const value of HOSTILE) {
          const what = `${name} = ${typeof value === 'number' ? value : JSON.stringify(value)}`;
          let layer: AnyLayer;
          try {
            layer = new spec.cls({ ...spec.args, [name]: value } as never);
          } catch (error) {
            expect(error, what).toBeInstanceOf(PhalanxConfigError);
            expectNamed(spec, error, what);
            refused++;
            continue;
          }
          const stored = layer.getConfig()[spec.configKey?.[name] ?? name];
          if (stored === null && name === 'units') continue; // GroupFusion: null means U = C
          expect(satisfies(spec.fields[name], stored), `${what} was accepted as ${String(stored)}`).toBe(true);
        }
      }
      expect(refused).toBeGreaterThan(0);
    });
  }
});

forEachBackend(() => {
  describe('accepted configurations work', () => {
    for (const spec of SPECS) {
      const names = Object.keys(spec.fields);
      if (names.length === 0) continue;
      it(`${spec.label}: every accepted hostile value gives finite outputs (or a named error), no leak`, () => {
        let applied = 0;
        for (const name of names) {
          for (const value of HOSTILE) {
            let layer: AnyLayer;
            try {
              layer = new spec.cls({ ...spec.args, [name]: value } as never);
            } catch {
              continue;
            }
            const xs = tensors(spec.inputs, applied);
            const before = tf.memory().numTensors;
            const error = thrownBy(() => {
              const outs = applyTo(layer, xs);
              for (const out of outs) expect(Array.from(out.dataSync()).every(Number.isFinite), `${name}`).toBe(true);
              tf.dispose(outs);
            });
            if (error !== undefined) expectNamed(spec, error, `${name} = ${String(value)}`);
            // The weights made by build stay; nothing else may.
            expect(tf.memory().numTensors - layer.weights.length, `${name} = ${String(value)}`).toBe(before);
            tf.dispose(xs);
            applied++;
          }
        }
        expect(applied).toBeGreaterThan(0);
      });
    }
  });

  describe('every error a layer throws names the layer class and leaks nothing', () => {
    it('sizes beyond the stated bounds are refused at construction, not by an allocation', () => {
      const cases: [LayerClass, Record<string, unknown>, string][] = [
        [DynamicEdgeGAT, { units: MAX_SIZE + 1 }, 'DynamicEdgeGAT: units must be an integer in [1, 16777216]'],
        [
          DynamicEdgeGAT,
          { units: 2 ** 14, heads: 2 ** 15 },
          'DynamicEdgeGAT: bias [K·U] (heads·units) must be of at most 268435456 (2^28) elements',
        ],
        [DualBranchFusion, { numJoints: 2 ** 14 + 1 }, 'DualBranchFusion: structuralWeight [J, J]'],
        [MultiHeadAttention, { numHeads: 1, units: 2 ** 14 + 1 }, 'MultiHeadAttention: outputKernel [D, D]'],
        [ResizeBilinear, { height: 2 ** 15, width: 2 ** 14 }, 'ResizeBilinear: output map [height, width]'],
        [ConcreteJointSelector, { numJoints: 2 ** 20, numGroups: 2 ** 9 }, 'ConcreteJointSelector: logits [J, G]'],
        [SoftArgmax25D, { numJoints: 1, depthBins: MAX_SIZE + 1 }, 'SoftArgmax25D: depthBins must be'],
        [GroupFusion, { numGroups: MAX_SIZE + 1 }, 'GroupFusion: numGroups must be'],
      ];
      for (const [cls, args, message] of cases) {
        const before = tf.memory().numTensors;
        expect(() => new cls(args as never)).toThrow(message);
        expect(tf.memory().numTensors).toBe(before);
      }
      // Where the size depends on the input, build refuses it before allocating.
      const gat = new DynamicEdgeGAT({ units: 2 ** 12, heads: 2 ** 4, adjacency: path3 });
      expect(() => gat.build([null, 3, 2 ** 13])).toThrow('DynamicEdgeGAT: kernel [F, K·U] (features·heads·units)');
      expect(gat.weights.length).toBe(0);
      expect(MAX_ELEMENTS).toBe(2 ** 28);
    });

    for (const spec of SPECS) {
      const variants = wrongShapes(spec.inputs);
      it(`${spec.label}: ${variants.length} wrong input shapes, each as tensors to a built layer, as symbolic inputs to a fresh and to a built layer`, () => {
        const built = new spec.cls(spec.args as never);
        const good = tensors(spec.inputs, 1);
        tf.dispose(applyTo(built, good));
        let errors = 0;
        for (const shapes of variants) {
          const what = JSON.stringify(shapes);
          const xs = tensors(shapes, 2);
          const before = tf.memory().numTensors;
          const error = thrownBy(() => tf.dispose(applyTo(built, xs)));
          expect(tf.memory().numTensors, `tensors after ${what}`).toBe(before);
          if (error !== undefined) {
            expectNamed(spec, error, `tensors ${what}`);
            errors++;
          }
          tf.dispose(xs);
          const symbolic = shapes.map((shape) => tfl.input({ batchShape: shape }));
          const args = symbolic.length === 1 ? symbolic[0] : symbolic;
          for (const layer of [new spec.cls(spec.args as never), built]) {
            const symbolicError = thrownBy(() => layer.apply(args));
            if (symbolicError !== undefined) {
              expectNamed(spec, symbolicError, `symbolic ${what}`);
              errors++;
            }
          }
        }
        expect(errors).toBeGreaterThan(0);
        tf.dispose(good);
      });
    }

    it('ConcreteJointSelector: Gumbel noise of the wrong shape (kwargs and selection()) names the class', () => {
      const spec = SPECS[0];
      const layer = new ConcreteJointSelector({ numJoints: 4, numGroups: 3 });
      const x = tf.zeros([2, 3, 4, 2]);
      tf.dispose(layer.apply(x) as tf.Tensor);
      for (const shape of [[3, 4], [4], [4, 3, 1], [5, 3]]) {
        const noise = tf.zeros(shape);
        const before = tf.memory().numTensors;
        expectNamed(
          spec,
          thrownBy(() => layer.apply(x, { training: true, gumbelNoise: noise })),
          `noise ${shape}`,
        );
        expectNamed(
          spec,
          thrownBy(() => layer.selection({ training: true, gumbelNoise: noise })),
          `noise ${shape}`,
        );
        expect(tf.memory().numTensors).toBe(before);
        noise.dispose();
      }
      const [logits, wrong, tau] = [tf.zeros([4, 3]), tf.zeros([3, 4]), tf.scalar(1)];
      expectNamed(
        spec,
        thrownBy(() => layer.setWeights([logits])),
        'setWeights with one weight',
      );
      expectNamed(
        spec,
        thrownBy(() => layer.setWeights([wrong, tau])),
        'setWeights shape',
      );
      tf.dispose([x, logits, wrong, tau]);
    });
  });
});
