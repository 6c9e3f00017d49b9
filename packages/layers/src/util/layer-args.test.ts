/**
 * Every layer class this package registers refuses an argument key it does not know — a misspelt
 * argument is a `PhalanxConfigError` naming the class and the key, not a silently used default — and
 * still takes tfjs's own `LayerArgs` keys and every key of its saved config, through the path
 * `tfl.models.modelFromJSON` / `tf.loadLayersModel` take (which adds `customObjects` to each config).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LayerArgs } from '@tensorflow/tfjs-layers/dist/engine/topology';
import { PhalanxConfigError } from '@phalanx/errors';
import { thrownBy, useBackend } from '@phalanx/testing';
import { MultiHeadAttention } from '../attention/multi-head-attention';
import { DualBranchFusion } from '../fusion/dual-branch-fusion';
import { GroupFusion, NddrKernel, nddrKernel } from '../fusion/group-fusion';
import { DynamicEdgeGAT } from '../graph/dynamic-edge-gat';
import { JointFeatureSampler } from '../keypoints/joint-feature-sampler';
import { SoftArgmax25D } from '../keypoints/soft-argmax-25d';
import { ChannelAffine } from '../normalization/channel-affine';
import { LastAxisLayerNormalization } from '../normalization/last-axis-layer-norm';
import { LeanBatchNormalization } from '../normalization/lean-batch-norm';
import { SeededDropout } from '../regularization/seeded-dropout';
import { ConcreteJointSelector } from '../selector/concrete-joint-selector';
import { ResizeBilinear } from '../spatial/resize-bilinear';
import { checkLayerArgs, LAYER_ARGS_KEYS } from './checks';
import { PhalanxLayer } from './phalanx-layer';

type LayerClass = (new (args: never) => tfl.layers.Layer) & { className: string };

interface Spec {
  cls: LayerClass;
  /** A valid configuration. */
  args: Record<string, unknown>;
  /** Shapes of valid inputs, batch excluded. */
  inputs: number[][];
  /** A misspelling of one of its arguments. */
  typo: string;
  /** Some of its own argument keys, which the error must list. */
  own: string[];
}

const path3 = [
  [0, 1, 0],
  [1, 0, 1],
  [0, 1, 0],
];

const SPECS: Spec[] = [
  {
    cls: ConcreteJointSelector,
    args: { numJoints: 4, numGroups: 3 },
    inputs: [[3, 4, 2]],
    typo: 'numGroup',
    own: ['numJoints', 'numGroups', 'inferenceMode'],
  },
  {
    cls: DynamicEdgeGAT,
    args: { units: 2, heads: 2, adjacency: path3, dropoutSeed: 5 },
    inputs: [[3, 4]],
    typo: 'head',
    own: ['units', 'heads', 'dropoutSeed'],
  },
  {
    cls: MultiHeadAttention,
    args: { numHeads: 2, units: 4 },
    inputs: [[3, 4]],
    typo: 'heads',
    own: ['numHeads', 'units'],
  },
  {
    cls: GroupFusion,
    args: { numGroups: 2 },
    inputs: [
      [3, 3, 4],
      [3, 3, 4],
    ],
    typo: 'numGroup',
    own: ['numGroups', 'kernelInitializer'],
  },
  {
    cls: DualBranchFusion,
    args: { numJoints: 3 },
    inputs: [
      [3, 2],
      [3, 2],
    ],
    typo: 'numJoint',
    own: ['numJoints', 'visualWeight'],
  },
  { cls: ChannelAffine, args: { activation: 'relu' }, inputs: [[4, 4, 2]], typo: 'activaton', own: ['activation'] },
  {
    cls: ResizeBilinear,
    args: { height: 3, width: 5 },
    inputs: [[4, 4, 2]],
    typo: 'widht',
    own: ['height', 'width', 'alignCorners'],
  },
  {
    cls: SoftArgmax25D,
    args: { numJoints: 2, depthBins: 3 },
    inputs: [[4, 4, 6]],
    typo: 'depthBin',
    own: ['numJoints', 'depthBins', 'trainableBeta'],
  },
  {
    cls: JointFeatureSampler,
    args: {},
    inputs: [
      [4, 4, 2],
      [3, 2],
    ],
    typo: 'trainble',
    own: [],
  },
  { cls: SeededDropout, args: { rate: 0.1, seed: 1 }, inputs: [[3, 4]], typo: 'dropoutRate', own: ['rate', 'seed'] },
  {
    cls: LeanBatchNormalization,
    args: { axis: -1, epsilon: 1e-5, momentum: 0.9 },
    inputs: [[4, 4, 2]],
    typo: 'momentun',
    own: ['axis', 'momentum', 'epsilon', 'movingVarianceInitializer'],
  },
  {
    cls: LastAxisLayerNormalization,
    args: { axis: -1, epsilon: 1e-5 },
    inputs: [[3, 4]],
    typo: 'epsilion',
    own: ['axis', 'epsilon', 'gammaInitializer'],
  },
];

/** tfjs's own keys that every layer takes: a caller's `LayerArgs`. */
const BASE = (spec: Spec) => ({ name: 'probe', trainable: false, inputShape: spec.inputs[0], dtype: 'float32' });

/** `model`'s topology as `model.json` stores it, loaded back as `tf.loadLayersModel` does (no weights). */
function saveAndLoad(model: tfl.LayersModel): Promise<tfl.LayersModel> {
  const modelTopology: unknown = JSON.parse(JSON.stringify(model.toJSON(undefined, false)));
  return tfl.models.modelFromJSON({ modelTopology } as Parameters<typeof tfl.models.modelFromJSON>[0]);
}

beforeAll(async () => {
  await useBackend('cpu');
});

describe('a misspelt argument key', () => {
  for (const spec of SPECS) {
    it(`${spec.cls.className}: args.${spec.typo} is a PhalanxConfigError naming the class, the key and the arguments`, () => {
      const before = tf.memory().numTensors;
      const error = thrownBy(() => new spec.cls({ ...spec.args, [spec.typo]: 3 } as never));
      expect(error).toBeInstanceOf(PhalanxConfigError);
      const message = (error as Error).message;
      expect(message).toContain(`${spec.cls.className}: args.${spec.typo} must be an option (one of `);
      expect(message).toContain('but received 3.');
      for (const key of [...spec.own, ...Object.keys(LAYER_ARGS_KEYS)])
        expect(message).toMatch(new RegExp(`\\b${key}\\b`));
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('ConcreteJointSelector: the message lists its own arguments first, then tfjs’s', () => {
    expect(() => new ConcreteJointSelector({ numJoints: 21, numGroup: 3 } as never)).toThrow(
      'ConcreteJointSelector: args.numGroup must be an option (one of numJoints, numGroups, initialTemperature, ' +
        'straightThrough, inferenceMode, seed, inputShape, batchInputShape, batchSize, dtype, name, trainable, ' +
        'weights, inputDType, customObjects), but received 3.',
    );
  });

  it('is refused whatever its value, undefined included', () => {
    for (const value of [undefined, null, 0, 'x', {}]) {
      expect(() => new ResizeBilinear({ height: 3, width: 5, widht: value } as never)).toThrow(
        'ResizeBilinear: args.widht must be an option',
      );
    }
  });

  it('NddrKernel (an initializer: no LayerArgs) refuses a misspelt key and tfjs layer keys', () => {
    expect(() => new NddrKernel({ numGroups: 2, selfWeigth: 0.8 } as never)).toThrow(
      'NddrKernel: args.selfWeigth must be an option (one of numGroups, selfWeight, otherWeight, customObjects), but received 0.8.',
    );
    expect(() => nddrKernel({ numGroups: 2, name: 'k' } as never)).toThrow(PhalanxConfigError);
  });
});

describe('tfjs’s own keys and saved configs', () => {
  for (const spec of SPECS) {
    it(`${spec.cls.className}: name, trainable, inputShape and dtype are taken; its saved config loads back`, async () => {
      const layer = new spec.cls({ ...spec.args, ...BASE(spec) } as never);
      expect(layer.name).toBe('probe');
      expect(layer.trainable).toBe(false);
      expect(layer.dtype).toBe('float32');
      expect(layer.batchInputShape).toEqual([null, ...spec.inputs[0]]);
      // A model saved and loaded as tf.loadLayersModel does: every key of getConfig() (tfjs's `name`,
      // `trainable`, `batchInputShape`, `dtype` included) and the `customObjects` tfjs adds come back.
      const inputs = spec.inputs.map((shape) => tfl.input({ shape }));
      const output = layer.apply(inputs.length === 1 ? inputs[0] : inputs) as tfl.SymbolicTensor;
      const model = tfl.model({ inputs, outputs: output });
      const loaded = await saveAndLoad(model);
      const again = loaded.getLayer('probe');
      expect(again).toBeInstanceOf(spec.cls);
      expect(again.getConfig()).toEqual(layer.getConfig());
      model.dispose();
      loaded.dispose();
    });
  }

  it('NddrKernel: a Dense layer with it as kernel initializer loads back (deserialised with customObjects)', async () => {
    const input = tfl.input({ shape: [4] });
    // tfjs's Dense deserialises a {className, config} initializer itself, adding customObjects to the config.
    const kernelInitializer = { className: 'NddrKernel', config: { numGroups: 2, selfWeight: 0.7 } };
    const dense = tfl.layers.dense({ units: 4, kernelInitializer: kernelInitializer as never });
    const model = tfl.model({ inputs: input, outputs: dense.apply(input) as tfl.SymbolicTensor });
    const loaded = await saveAndLoad(model);
    expect(loaded.layers[1].getConfig().kernelInitializer).toEqual({
      className: 'NddrKernel',
      config: { numGroups: 2, selfWeight: 0.7, otherWeight: 0.1 },
    });
    model.dispose();
    loaded.dispose();
  });

  it('every registered PhalanxLayer class is in this table', () => {
    const registered = Object.values(tf.serialization.SerializationMap.getMap().classNameMap)
      .map(([cls]) => cls as unknown as LayerClass)
      .filter((cls) => cls.prototype instanceof PhalanxLayer);
    expect(registered.length).toBeGreaterThan(0);
    for (const cls of registered)
      expect(
        SPECS.map((s) => s.cls),
        cls.className,
      ).toContain(cls);
  });
});

describe('a PhalanxLayer subclass that passes no key table', () => {
  it('has its arguments checked to be an object only, as before the table existed', () => {
    interface LegacyArgs extends LayerArgs {
      gain?: number;
    }
    class Legacy extends PhalanxLayer<LegacyArgs> {
      static readonly className = 'LegacyLayer';
      readonly gain: number;
      constructor(args: LegacyArgs) {
        // Plain JavaScript, or a subclass compiled against the one-argument constructor.
        super(args, undefined as never);
        this.gain = args.gain ?? 1;
      }
    }
    expect(new Legacy({ gain: 2, name: 'legacy' }).gain).toBe(2);
    expect(() => new Legacy(null as never)).toThrow('LegacyLayer: args must be an object, but received null.');
  });
});

describe('checkLayerArgs', () => {
  it('takes own keys, LayerArgs keys and customObjects; refuses anything else and non-objects', () => {
    const own = { units: true } as const;
    const args = { units: 2, name: 'a', batchSize: 4, weights: [], inputDType: 'float32', customObjects: {} };
    expect(checkLayerArgs('L', args, own)).toBe(args);
    expect(() => checkLayerArgs('L', { unit: 2 }, own)).toThrow(
      'L: args.unit must be an option (one of units, inputShape, batchInputShape, batchSize, dtype, name, trainable, weights, inputDType, customObjects), but received 2.',
    );
    expect(() => checkLayerArgs('L', { units: 2, name: 'a' }, own, {})).toThrow('L: args.name must be an option');
    for (const bad of [null, [], 3, 'args']) {
      expect(() => checkLayerArgs('L', bad, own)).toThrow(
        new PhalanxConfigError('L', 'args', 'an object', bad).message,
      );
    }
  });
});
