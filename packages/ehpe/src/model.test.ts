import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  expectClose,
  expectFailsWithoutEffect,
  expectNoLeakInPredictAndTrain,
  expectNoTensorLeak,
  expectSaveLoadIdentical,
  forEachBackend,
  readJson,
  toTensor,
  useBackend,
  type TensorJson,
} from '@phalanx/testing';
import { PhalanxConfigError } from '@phalanx/errors';
import {
  DualBranchFusion,
  DynamicEdgeGAT,
  findNoiseStreamLayers,
  MultiHeadAttention,
  readSafetensors,
  ResizeBilinear,
  SoftArgmax25D,
} from '@phalanx/layers';
import {
  createEhpe,
  createFem,
  createPgOnly,
  createPgStage,
  createTwStage,
  ehpeRecordOf,
  exportTorchStateDict,
  importTorchStateDict,
  importTorchvisionBackbone,
  init21FromTipsAndWrist,
  Init21Layout,
  init21Layout,
  type EhpeConfig,
  type FemConfig,
  type TwStageConfig,
} from './index';
import { TINY_EHPE } from './tiny.fixture';

// Reduced official modules (scripts/make-fixture.py): PyTorch float64 outputs, eval mode.
const FIXTURE = new URL('../test/fixtures/ehpe-reduced/', import.meta.url);
const twCase = readJson<{
  config: TwStageConfig;
  featuresNHWC: TensorJson;
  heatmaps2dNHWC: TensorJson;
  volumeNHWC: TensorJson;
  coords25d: TensorJson;
}>(new URL('tw_stage.json', FIXTURE));
const femCase = readJson<{ config: FemConfig; jointTokens: TensorJson; imageTokens: TensorJson; output: TensorJson }>(
  new URL('fem.json', FIXTURE),
);
const initCase = readJson<{ wrist: TensorJson; tips: TensorJson; init21: TensorJson }>(new URL('init21.json', FIXTURE));
const bytes = (file: string) => readFileSync(new URL(file, FIXTURE));
const resnetCase = (name: string) =>
  readJson<{
    config: { block: 'basic' | 'bottleneck'; layers: number[]; widths: number[]; stemChannels: number };
    imageNHWC: TensorJson;
    featuresNHWC: TensorJson;
  }>(new URL(`resnet_${name}.json`, FIXTURE));

/** The tiny whole model of the training tests, with the model's default dropout (0.1). */
const TINY: EhpeConfig = { ...TINY_EHPE, dropout: 0.1 };

function importedTwStage(): tfl.LayersModel {
  const model = createTwStage({ ...twCase.config, featureSize: twCase.featuresNHWC.shape[1] });
  const tensors = readSafetensors(bytes('tw_stage.safetensors'));
  importTorchStateDict(model, tensors);
  tf.dispose(Object.values(tensors));
  return model;
}

beforeAll(() => useBackend('cpu'));

forEachBackend((backend) => {
  describe('parity with the official PyTorch modules (reduced fixture)', () => {
    it('TWStage: heatmaps, 2.5D volume and coordinates', () => {
      const model = importedTwStage();
      const x = toTensor(twCase.featuresNHWC);
      const [heat, volume, coords] = model.predict(x) as tf.Tensor[];
      expectClose(heat, toTensor(twCase.heatmaps2dNHWC), { rtol: 0, atol: 2e-5 }, `heatmaps on ${backend}`);
      expectClose(volume, toTensor(twCase.volumeNHWC), { rtol: 0, atol: 2e-5 }, `volume on ${backend}`);
      expectClose(coords, toTensor(twCase.coords25d), { rtol: 0, atol: 1e-4 }, `coords on ${backend}`);
      tf.dispose([x, heat, volume, coords]);
    });

    it('FEM: self- then cross-attention blocks (exact GELU, LayerNorm ε 1e-5)', () => {
      const model = createFem({ ...femCase.config, numImageTokens: femCase.imageTokens.shape[1] });
      const tensors = readSafetensors(bytes('fem.safetensors'));
      importTorchStateDict(model, tensors);
      tf.dispose(Object.values(tensors));
      const inputs = [toTensor(femCase.jointTokens), toTensor(femCase.imageTokens)];
      const out = model.predict(inputs) as tf.Tensor;
      expectClose(out, toTensor(femCase.output), { rtol: 0, atol: 2e-5 }, `FEM on ${backend}`);
      tf.dispose([...inputs, out]);
    });

    it('init_21_from_tw', () => {
      const [wrist, tips] = [toTensor(initCase.wrist), toTensor(initCase.tips)];
      const init = init21FromTipsAndWrist(wrist, tips);
      expectClose(init, toTensor(initCase.init21), { rtol: 0, atol: 1e-4 }, `init21 on ${backend}`);
      tf.dispose([wrist, tips, init]);
    });

    for (const name of ['basic', 'bottleneck']) {
      it(`ResNet (${name} blocks) with torchvision names loads a torchvision state_dict`, () => {
        const c = resnetCase(name);
        const size = c.imageNHWC.shape[1];
        const model = createEhpe({ ...TINY, imageSize: size, backbone: c.config });
        importTorchvisionBackbone(model, readSafetensors(bytes(`resnet_${name}.safetensors`)));
        const lastStage = `backbone.layer${c.config.layers.length}.${c.config.layers[c.config.layers.length - 1] - 1}.relu`;
        const backbone = tfl.model({
          inputs: model.inputs,
          outputs: model.getLayer(lastStage).output as tfl.SymbolicTensor,
        });
        const x = toTensor(c.imageNHWC);
        const y = backbone.predict(x) as tf.Tensor;
        expectClose(y, toTensor(c.featuresNHWC), { rtol: 0, atol: 2e-5 }, `ResNet ${name} on ${backend}`);
        tf.dispose([x, y]);
      });
    }
  });

  describe('createEhpe', () => {
    it('save → load through disk gives identical outputs (custom layers registered)', async () => {
      const model = createEhpe(TINY);
      const x = tf.randomUniform([2, 64, 64, 3], 0, 1, 'float32', 3);
      const loaded = await expectSaveLoadIdentical(model, [x]);
      for (const cls of [
        Init21Layout,
        ResizeBilinear,
        DynamicEdgeGAT,
        MultiHeadAttention,
        DualBranchFusion,
        SoftArgmax25D,
      ]) {
        expect(
          loaded.layers.some((l) => l instanceof cls),
          cls.className,
        ).toBe(true);
      }
      x.dispose();
    });

    it('no tensor leaks in predict' + (backend === 'cpu' ? ' and training steps' : ''), async () => {
      const model = createEhpe(TINY);
      const x = tf.randomUniform([1, 64, 64, 3], 0, 1, 'float32', 4);
      // wasm lacks Conv2DBackpropFilter without @phalanx/wasm-training: train on cpu only.
      if (backend === 'cpu') await expectNoLeakInPredictAndTrain(model, [x]);
      else await expectNoTensorLeak(() => tf.dispose(model.predict(x) as tf.Tensor[]), 'predict');
      x.dispose();
    });
  });
});

describe('createEhpe structure', () => {
  it('has the documented outputs and the release / torchvision layer names', () => {
    const model = createEhpe(TINY);
    expect(model.inputs[0].shape).toEqual([null, 64, 64, 3]);
    expect(model.outputs.map((o) => o.shape)).toEqual([
      [null, 16, 16, 6],
      [null, 6, 3],
      [null, 21, 3],
      [null, 2, 21, 21],
      [null, 2, 21, 21],
    ]);
    const names = new Set(model.layers.map((l) => l.name));
    for (const n of [
      'backbone.conv1',
      'backbone.bn1',
      'backbone.layer2.0.downsample.0',
      'backbone.layer4.0.conv2',
      'tw.upsample_to_hm.0',
      'tw.hg.hgs.0.low2.low2.conv3',
      'tw.hg.outs.0',
      'tw.refine.blocks.1.bn2',
      'tw.to_25d',
      'img_token_proj.1',
      'pg.node_proj',
      'pg.spi.gat.0',
      'pg.spi.skip.1',
      'pg.fem.sa_blocks.0.attn',
      'pg.fem.ca_blocks.0.lnk',
      'pg.out_head',
    ]) {
      expect(names.has(n), n).toBe(true);
    }
    expect(model.getLayer('pg')).toBeInstanceOf(DualBranchFusion);
    expect((model.getLayer('pg.spi.gat.0') as DynamicEdgeGAT).getConfig().hops).toBe(1);
    expect((model.getLayer('pg.spi.gat.1') as DynamicEdgeGAT).getConfig().hops).toBe(2);
  });

  it('the graph attention is zero outside the 1-hop / 2-hop skeleton neighbourhoods, rows sum to 1', () => {
    const model = createEhpe(TINY);
    const x = tf.randomUniform([1, 64, 64, 3], 0, 1, 'float32', 5);
    const out = model.predict(x) as tf.Tensor[];
    const [a1, a2] = [out[3].arraySync() as number[][][][], out[4].arraySync() as number[][][][]];
    // Wrist (0) – thumb MCP (1) is a bone; wrist – thumb PIP (2) is two hops; wrist – thumb DIP (3) three.
    expect(a1[0][0][0][1]).toBeGreaterThan(0);
    expect(a1[0][0][0][2]).toBe(0);
    expect(a2[0][0][0][2]).toBeGreaterThan(0);
    expect(a2[0][0][0][3]).toBe(0);
    expect(a1[0][1][5].reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5);
    tf.dispose([x, ...out]);
  });

  it('segmented variants (paper Table 4): the TW-stage predicts the listed joints', () => {
    const wtd = [0, 3, 4, 7, 8, 11, 12, 15, 16, 19, 20]; // W+T+D
    const model = createEhpe({ ...TINY, tipWristJoints: wtd });
    expect(model.outputs[0].shape).toEqual([null, 16, 16, 11]);
    expect(model.outputs[1].shape).toEqual([null, 11, 3]);
    expect(model.outputs[2].shape).toEqual([null, 21, 3]);
    expect((model.getLayer('init21') as Init21Layout).tipWristJoints).toEqual(wtd);
  });

  it('createPgStage is the PG-stage of createEhpe (weights transfer by layer name)', () => {
    const model = createEhpe(TINY);
    const pg = createPgStage(TINY, 4);
    for (const layer of pg.layers)
      if (layer.weights.length > 0) layer.setWeights(model.getLayer(layer.name).getWeights());
    const inner = tfl.model({
      inputs: model.inputs,
      outputs: [model.getLayer('node_feat').output, model.getLayer('img_tokens').output] as tfl.SymbolicTensor[],
    });
    const x = tf.randomUniform([2, 64, 64, 3], 0, 1, 'float32', 13);
    const [nodes, tokens] = inner.predict(x) as tf.Tensor[];
    const full = model.predict(x) as tf.Tensor[];
    const alone = pg.predict([nodes, tokens]) as tf.Tensor[];
    expectClose(alone[0], full[2], { rtol: 0, atol: 1e-5 }, 'joints');
    expectClose(alone[2], full[4], { rtol: 0, atol: 1e-6 }, '2-hop attention');
    tf.dispose([x, nodes, tokens, ...full, ...alone]);
  });
});

describe('createEhpe configuration errors', () => {
  it('refuses sizes no model needs before it builds anything (they built until out of memory)', () => {
    const start = performance.now();
    const cases: [() => unknown, string][] = [
      [() => createEhpe({ ...TINY, imageSize: 2 ** 30 }), 'createEhpe: imageSize must be an integer in [1, 4096]'],
      [() => createEhpe({ ...TINY, nodeDim: 1e9 }), 'createEhpe: nodeDim must be an integer in [1, 8192]'],
      [() => createEhpe({ ...TINY, gatHeads: 64 }), `createEhpe: gatHeads must be an integer in [1, ${TINY.nodeDim}]`],
      [() => createEhpe({ ...TINY, femLayers: 1e9 }), 'createEhpe: layers must be an integer in [1, 64]'],
      [
        () => createEhpe({ ...TINY, hourglassStacks: 1e6 }),
        'createEhpe: hourglassStacks must be an integer in [1, 64]',
      ],
      [
        () => createEhpe({ ...TINY, hourglassChannels: 1e9 }),
        'createEhpe: hourglassChannels must be an integer in [2, 8192]',
      ],
      [() => createEhpe({ ...TINY, depthBins: 1e9 }), 'createEhpe: depthBins must be an integer in [2, 4096]'],
      [
        () => createEhpe({ ...TINY, backbone: { ...TINY.backbone, widths: [8, 8, 8, 1e9] } }),
        'createEhpe: widths must be an integer in [1, 8192]',
      ],
      [
        () => createEhpe({ ...TINY, backbone: { ...TINY.backbone, layers: [1, 1, 1, 1e9] } }),
        'createEhpe: layers must be an integer in [1, 64]',
      ],
      [
        () => createFem({ dim: 8, heads: 2, numImageTokens: 2 ** 25 }),
        'createFem: numImageTokens must be an integer in [1, 16777216]',
      ],
    ];
    for (const [f, message] of cases) {
      expect(f, message).toThrow(PhalanxConfigError);
      expect(f).toThrow(message);
    }
    expect(performance.now() - start).toBeLessThan(5000);
  });

  it('rejects bad configurations with named errors', () => {
    expect(() => createEhpe({ ...TINY, imageSize: 48 })).toThrow(
      "createEhpe: imageSize must be a multiple of the backbone's stride 32, but received 48.",
    );
    expect(() => createEhpe({ ...TINY, depthBins: 1 })).toThrow(
      'createEhpe: depthBins must be an integer in [2, 4096], but received 1.',
    );
    expect(() => createEhpe({ ...TINY, gatHeads: 3 })).toThrow(
      'createEhpe: gatHeads must be a divisor of nodeDim = 16, but received 3.',
    );
    expect(() => createEhpe({ ...TINY, tipWristJoints: [4, 0] })).toThrow(
      'createEhpe: tipWristJoints must be a non-empty increasing list of joint indices in [0, 20], but received [4, 0].',
    );
    expect(() => createEhpe({ ...TINY, heatmapSize: 18 })).toThrow(
      'createEhpe: heatmapSize must be a multiple of 2^hourglassDepth = 4, but received 18.',
    );
    expect(() => createEhpe({ ...TINY, backbone: { depth: 20 as never } })).toThrow(
      'createEhpe: depth must be one of 18, 34, 50, 101, 152, but received 20.',
    );
    expect(() => createEhpe({ ...TINY, femHeads: 5 })).toThrow(
      'createEhpe: heads must be a divisor of dim = 16, but received 5.',
    );
    // The backbone and every list option, named (a string backbone used to build a ResNet-50 silently).
    expect(() => createEhpe({ ...TINY, backbone: 'resnet18' as never })).toThrow(
      "createEhpe: backbone must be an options object such as { depth: 18 } or { block: 'basic', layers: [2, 2, 2, 2] }, but received 'resnet18'.",
    );
    expect(() => createEhpe({ ...TINY, backbone: { depht: 18 } as never })).toThrow(
      'createEhpe: backbone.depht must be a ResNet option (one of depth, block, layers, widths, stemChannels, name), but received 18.',
    );
    expect(() => createEhpe({ ...TINY, backbone: { ...TINY.backbone, widths: [4, 4, 8] } })).toThrow(
      'createEhpe: widths must be a list of 4 widths (one per stage), but received [4, 4, 8].',
    );
    expect(() => createEhpe({ ...TINY, backbone: { ...TINY.backbone, layers: [1, 1, 0, 1] } })).toThrow(
      'createEhpe: layers must be an integer in [1, 64], but received 0.',
    );
    expect(() => createEhpe({ ...TINY, fingerRatios: [0.3, 0.6] as never })).toThrow(
      'createEhpe: fingerRatios must be a list of 3 numbers, but received [0.3, 0.6].',
    );
    expect(() => createEhpe({ ...TINY, thumbRatios: [0.3, NaN, 0.9] })).toThrow(
      'createEhpe: thumbRatios must be a finite number, but received NaN.',
    );
    expect(() => createEhpe({ ...TINY, lateralOffsets: [1, 2, 3] as never })).toThrow(
      'createEhpe: lateralOffsets must be a list of 5 numbers, but received [1, 2, 3].',
    );
    expect(() => createEhpe({ ...TINY, tipWristJoints: [0, 4, 21] })).toThrow(
      'createEhpe: tipWristJoints must be a non-empty increasing list of joint indices in [0, 20], but received [0, 4, 21].',
    );
    // A misspelt option is named, not replaced by its default.
    expect(() => createEhpe({ ...TINY, imageSiz: 64 } as never)).toThrow(
      /^createEhpe: config.imageSiz must be an option \(one of imageSize, backbone, .*, name\), but received 64\.$/,
    );
    expect(() => createPgStage({ ...TINY, dropoutseed: 3 } as never)).toThrow(/config.dropoutseed must be an option/);
    expect(() => createPgOnly({ ...TINY, backbone: 'resnet18' as never })).toThrow(
      /createEhpe: backbone must be an options object/,
    );
    expect(() => createTwStage({ beta: 0 })).toThrow('createTwStage: beta must be a number > 0, but received 0.');
    expect(() => createTwStage({ heatmapSise: 32 } as never)).toThrow(
      /^createTwStage: config.heatmapSise must be an option/,
    );
    expect(() => createTwStage(null as never)).toThrow(
      'createTwStage: config must be an options object, but received null.',
    );
    expect(() => createFem({ head: 4 } as never)).toThrow(
      'createFem: config.head must be an option (one of dim, layers, heads, mlpRatio, dropout, dropoutSeed, numJoints, numImageTokens, name), but received 4.',
    );
    expect(() => createTwStage({ refineBlocks: 2, refinePools: 3 })).toThrow(
      'createTwStage: refinePools must be at most refineBlocks (2), but received 3.',
    );
    expect(() => createFem({ dim: 10, heads: 4 })).toThrow(
      'createFem: heads must be a divisor of dim = 10, but received 4.',
    );
  });
});

describe('createEhpe: values a layer would refuse late', () => {
  it('are refused before any weight is built (no tensor left behind), by the model that was called', () => {
    const beta = 'beta must be a positive normal float32 (1.1754944e-38 ≤ x ≤ 3.4028235e38), but received 1e-39.';
    const cases: [() => unknown, string][] = [
      [() => createEhpe({ ...TINY, beta: 1e-39 }), `createEhpe: ${beta}`],
      [() => createTwStage({ backboneChannels: 8, hourglassChannels: 8, beta: 1e-39 }), `createTwStage: ${beta}`],
      [() => createEhpe({ ...TINY, name: 5 as never }), 'createEhpe: name must be a string, but received 5.'],
      [() => createTwStage({ name: ['tw'] as never }), 'createTwStage: name must be a string, but received [tw].'],
    ];
    for (const [build, message] of cases) {
      const before = tf.memory().numTensors;
      expect(build, message).toThrow(PhalanxConfigError);
      expect(build, message).toThrow(message);
      expect(tf.memory().numTensors, message).toBe(before);
    }
  });
});

describe('EhpeConfig.dropoutSeed', () => {
  const seedsOf = (model: tfl.LayersModel) =>
    Object.fromEntries(findNoiseStreamLayers(model).map((l) => [l.name, l.getNoiseState().seed]));
  /** The PG-stage's joints in training mode on fixed inputs, as host values. */
  const trainingJoints = (model: tfl.LayersModel) =>
    tf.tidy(() => {
      const inputs = [
        tf.randomNormal([2, 21, 19], 0, 1, 'float32', 1),
        tf.randomNormal([2, 4, 16], 0, 1, 'float32', 2),
      ];
      return Array.from((model.apply(inputs, { training: true }) as tf.Tensor[])[0].dataSync());
    });

  it('gives every dropout site its own seed, the same on every build; without it the model is unseeded', () => {
    const seeded = createPgStage({ ...TINY, dropout: 0.1, dropoutSeed: 5 }, 4);
    const seeds = seedsOf(seeded);
    expect(Object.keys(seeds).sort()).toEqual(
      [
        'pg.spi.gat.0',
        'pg.spi.gat.1',
        ...['sa_blocks', 'ca_blocks'].flatMap((b) => ['attn', 'mlp.2', 'mlp.4'].map((l) => `pg.fem.${b}.0.${l}`)),
      ].sort(),
    );
    const values = Object.values(seeds);
    expect(values.every((v) => Number.isInteger(v))).toBe(true);
    expect(new Set(values).size).toBe(values.length);
    expect(seedsOf(createPgStage({ ...TINY, dropout: 0.1, dropoutSeed: 5 }, 4))).toEqual(seeds);
    expect(seedsOf(createPgStage({ ...TINY, dropout: 0.1, dropoutSeed: 6 }, 4))).not.toEqual(seeds);
    expect(ehpeRecordOf(seeded)?.config.dropoutSeed).toBe(5);

    const unseeded = createPgStage({ ...TINY, dropout: 0.1 }, 4);
    expect(Object.values(seedsOf(unseeded)).every((v) => v === null)).toBe(true);
    const topology = JSON.stringify(unseeded.toJSON(null, false));
    expect(topology).not.toContain('dropoutSeed');
    expect(topology).not.toContain('SeededDropout');
    [seeded, unseeded].forEach((m) => m.dispose());
  });

  it('two models with the same seed and weights train with the same masks; another seed differs', () => {
    const a = createPgStage({ ...TINY, dropout: 0.3, dropoutSeed: 9 }, 4);
    const b = createPgStage({ ...TINY, dropout: 0.3, dropoutSeed: 9 }, 4);
    const c = createPgStage({ ...TINY, dropout: 0.3, dropoutSeed: 10 }, 4);
    b.setWeights(a.getWeights());
    c.setWeights(a.getWeights());
    const [a0, a1] = [trainingJoints(a), trainingJoints(a)];
    expect([trainingJoints(b), trainingJoints(b)]).toEqual([a0, a1]);
    expect(a1).not.toEqual(a0);
    expect(trainingJoints(c)).not.toEqual(a0);
    [a, b, c].forEach((m) => m.dispose());
  });

  it('refuses a seed that is not an integer, by name', () => {
    expect(() => createEhpe({ ...TINY, dropoutSeed: 1.5 })).toThrow(
      'createEhpe: dropoutSeed must be an integer or null, but received 1.5.',
    );
    expect(() => createPgStage({ ...TINY, dropoutSeed: '3' as never })).toThrow(PhalanxConfigError);
    expect(() => createFem({ dropoutSeed: Number.NaN })).toThrow(
      'createFem: dropoutSeed must be an integer or null, but received NaN.',
    );
  });

  it('createFem refuses a name that is not a string before building, as createTwStage and createEhpe do', () => {
    for (const [name, shown] of [
      [5, '5'],
      [{}, '{}'],
      [['fem'], '[fem]'],
    ] as const) {
      const before = tf.memory().numTensors;
      expect(() => createFem({ dim: 4, heads: 2, name: name as never })).toThrow(
        `createFem: name must be a string, but received ${shown}.`,
      );
      expect(tf.memory().numTensors).toBe(before);
    }
  });
});

describe('importTorchStateDict', () => {
  const shortened = (drop: string[], extra: Record<string, tf.Tensor> = {}) => {
    const tensors = readSafetensors(bytes('tw_stage.safetensors'));
    for (const k of drop) {
      tensors[k].dispose();
      delete tensors[k];
    }
    return { ...tensors, ...extra };
  };

  it('strict mode lists every missing and unexpected key; non-strict reports them', () => {
    const model = createTwStage({ ...twCase.config, featureSize: 4 });
    const tensors = shortened(['to_25d.bias', 'hg.hgs.1.low2.low3.bn2.running_var'], {
      'hg.extra.weight': tf.ones([2]),
    });
    expect(() => importTorchStateDict(model, tensors)).toThrow(
      "loadTorchStateDict: tensors must be a state_dict matching the model exactly, but received 'missing keys: " +
        "hg.hgs.1.low2.low3.bn2.running_var, to_25d.bias; unexpected keys: hg.extra.weight'.",
    );
    const report = importTorchStateDict(model, tensors, { strict: false });
    expect(report.missing.sort()).toEqual(['hg.hgs.1.low2.low3.bn2.running_var', 'to_25d.bias']);
    expect(report.unexpected).toEqual(['hg.extra.weight']);
    tf.dispose(Object.values(tensors));
  });

  it('rejects a wrong shape by name; accepts a DataParallel prefix', () => {
    const model = createTwStage({ ...twCase.config, featureSize: 4 });
    const bad = shortened(['to_25d.weight'], { 'to_25d.weight': tf.zeros([24, 8, 3, 3]) });
    expect(() => importTorchStateDict(model, bad)).toThrow(
      "loadTorchStateDict: tensor 'to_25d.weight' must be of shape [24, 8, 1, 1], but received [24, 8, 3, 3].",
    );
    tf.dispose(Object.values(bad));
    const good = shortened([]);
    const report = importTorchStateDict(
      model,
      Object.fromEntries(Object.entries(good).map(([k, v]) => [`module.${k}`, v])),
    );
    expect(report.loaded).toHaveLength(Object.keys(good).length);
    tf.dispose(Object.values(good));
  });

  it('a failed import writes nothing and leaves no tensor behind (shape, NaN, negative running_var)', async () => {
    const model = importedTwStage();
    const good = shortened([]);
    const wide = tf.zeros([24, 8, 3, 3]);
    const nan = tf.tidy(() => tf.mul(good['refine.blocks.0.bn1.weight'], NaN));
    const negative = tf.tidy(() => tf.sub(good['hg.hgs.1.low2.low3.bn2.running_var'], 10));
    for (const [bad, error] of [
      [
        { 'to_25d.weight': wide },
        "loadTorchStateDict: tensor 'to_25d.weight' must be of shape [24, 8, 1, 1], but received [24, 8, 3, 3].",
      ],
      [{ 'refine.blocks.0.bn1.weight': nan }, /tensor 'refine\.blocks\.0\.bn1\.weight' must be finite/],
      [{ 'hg.hgs.1.low2.low3.bn2.running_var': negative }, /running_var' must be a variance \(every value ≥ 0\)/],
    ] as const) {
      await expectFailsWithoutEffect(model, () => importTorchStateDict(model, { ...good, ...bad }), error);
    }
    tf.dispose([wide, nan, negative, ...Object.values(good)]);
    model.dispose();
  });

  it('a whole EHPE state_dict: release names (backbone.stem.*, adj) round-trip through the model', () => {
    const model = createEhpe(TINY);
    // Export the model's weights under the release's names, perturb them, import into a fresh model.
    const tensors: Record<string, tf.Tensor> = {};
    for (const layer of model.layers) {
      const cls = layer.getClassName();
      const base = layer.name
        .replace(/^backbone\.conv1$/, 'backbone.stem.0')
        .replace(/^backbone\.bn1$/, 'backbone.stem.1');
      const ws = layer.getWeights();
      const names = layer.weights.map((w) => w.originalName.split('/').pop() as string);
      if (cls === 'Conv2D') {
        tensors[`${base}.weight`] = tf.transpose(ws[0], [3, 2, 0, 1]);
        if (ws[1]) tensors[`${base}.bias`] = ws[1];
      } else if (cls === 'LeanBatchNormalization') {
        ['weight', 'bias', 'running_mean', 'running_var'].forEach(
          (p, k) => (tensors[`${base}.${p}`] = tf.add(ws[k], 0.1)),
        );
      } else if (cls === 'Dense') {
        tensors[`${base}.weight`] = tf.transpose(ws[0]);
        if (ws[1]) tensors[`${base}.bias`] = ws[1];
      } else if (cls === 'LastAxisLayerNormalization') {
        tensors[`${base}.weight`] = tf.add(ws[0], 0.5);
        tensors[`${base}.bias`] = tf.add(ws[1], 0.5);
      } else if (cls === 'MultiHeadAttention') {
        tensors[`${base}.in_proj_weight`] = tf.concat(
          [0, 2, 4].map((k) => tf.transpose(ws[k])),
          0,
        );
        tensors[`${base}.in_proj_bias`] = tf.add(
          tf.concat(
            [1, 3, 5].map((k) => ws[k]),
            0,
          ),
          0.3,
        );
        tensors[`${base}.out_proj.weight`] = tf.transpose(ws[6]);
        tensors[`${base}.out_proj.bias`] = tf.add(ws[7], 0.3);
      } else if (cls === 'DualBranchFusion') {
        tensors[`${base}.omega_g`] = tf.mul(ws[0], 0.5);
        tensors[`${base}.omega_e`] = tf.mul(ws[1], 2);
      } else if (cls === 'DynamicEdgeGAT') {
        names.forEach((n, k) => {
          const key = { kernel: 'lin.weight', attentionSelf: 'att_dst', attentionNeighbor: 'att_src', bias: 'bias' }[
            n
          ] as string;
          tensors[`${base}.${key}`] =
            n === 'kernel' ? tf.transpose(ws[k]) : n === 'bias' ? tf.add(ws[k], 0.2) : tf.expandDims(ws[k], 0);
        });
      } else {
        expect(ws, `${layer.name} (${cls}) has no converter`).toHaveLength(0);
      }
    }
    tensors['adj'] = tf.eye(21);
    const fresh = createEhpe(TINY);
    const report = importTorchStateDict(fresh, tensors);
    expect(report.loaded.some((k) => k === 'backbone.conv1.weight')).toBe(true);
    // The fresh model's weights are the exported ones (perturbations included).
    expectClose(
      fresh.getLayer('backbone.conv1').getWeights()[0],
      model.getLayer('backbone.conv1').getWeights()[0],
      { rtol: 0, atol: 0 },
      'stem.0',
    );
    expectClose(
      fresh.getLayer('pg.spi.gat.1').getWeights()[1],
      model.getLayer('pg.spi.gat.1').getWeights()[1],
      { rtol: 0, atol: 0 },
      'att_dst',
    );
    expect(fresh.getLayer('pg').getWeights()[1].arraySync()).toEqual(Array.from({ length: 21 }, () => [2]));
    const ln = fresh.getLayer('pg.fem.sa_blocks.0.ln1').getWeights()[0].arraySync() as number[];
    expect(ln.every((v) => Math.abs(v - 1.5) < 1e-6)).toBe(true);
    tf.dispose(Object.values(tensors));
  });
});

describe('Init21Layout', () => {
  it('keeps the predicted joints (plus the lateral offset) and interpolates the others (W+T+D variant)', () => {
    const joints = [0, 3, 4, 7, 8, 11, 12, 15, 16, 19, 20];
    const layer = new Init21Layout({ tipWristJoints: joints, lateralOffsets: [0, 0, 0, 0, 0] });
    const tw = tf.randomUniform([2, joints.length, 3], 0, 50, 'float32', 11);
    const out = layer.apply(tw) as tf.Tensor;
    const o = out.arraySync() as number[][][];
    const t = tw.arraySync() as number[][][];
    joints.forEach((j, k) => expect(o[1][j][0]).toBeCloseTo(t[1][k][0], 4));
    // Index PIP (6) sits between the wrist (t = 0) and the index DIP (7, t = 0.85) at t = 0.62.
    const lambda = 0.62 / 0.85;
    for (let a = 0; a < 3; a++) expect(o[0][6][a]).toBeCloseTo((1 - lambda) * t[0][0][a] + lambda * t[0][3][a], 4);
    expect(layer.getConfig().tipWristJoints).toEqual(joints);
    tf.dispose([tw, out]);
  });

  it('is a translation-equivariant affine map for every Table 4 split; rejects bad input shapes', () => {
    const splits = [
      [0, 4, 8, 12, 16, 20],
      [4, 8, 12, 16, 20],
      [0],
      [0, 1, 2, 5, 6, 9, 10, 13, 14, 17, 18], // W+P+M
    ];
    for (const joints of splits) {
      const layer = new Init21Layout({ tipWristJoints: joints });
      const tw = tf.randomUniform([1, joints.length, 3], 0, 50, 'float32', 12);
      const shifted = tf.add(tw, tf.tensor1d([3, -2, 1]));
      const d = tf.sub(layer.apply(shifted) as tf.Tensor, layer.apply(tw) as tf.Tensor);
      expectClose(d, tf.tile(tf.tensor3d([[[3, -2, 1]]]), [1, 21, 1]), { rtol: 0, atol: 1e-4 }, `${joints}`);
      tf.dispose([tw, shifted, d]);
    }
    expect(() => new Init21Layout().apply(tfl.input({ shape: [5, 3] }))).toThrow(
      'Init21Layout: input shape must be [B, 6, 3] (one row per tipWristJoints entry), but received [null, 5, 3].',
    );
    expect(() => new Init21Layout({ fingerRatios: [0.1, 0.2] as never })).toThrow(
      'Init21Layout: fingerRatios must be a list of 3 numbers, but received [0.1, 0.2].',
    );
    for (const args of [null, 5]) {
      expect(() => new Init21Layout(args as never)).toThrow(PhalanxConfigError);
      expect(() => new Init21Layout(args as never)).toThrow(
        `Init21Layout: args must be an object, but received ${args}.`,
      );
    }
    expect(() => new Init21Layout([] as never)).toThrow('Init21Layout: args must be an object, but received [].');
  });

  it('refuses a misspelt argument key by name, as every layer does', () => {
    expect(() => new Init21Layout({ xyScales: 4 } as never)).toThrow(PhalanxConfigError);
    expect(() => new Init21Layout({ tipWristJoints: [0, 4, 8, 12, 16, 20], xyScales: 4 } as never)).toThrow(
      'Init21Layout: args.xyScales must be an option (one of tipWristJoints, xyScale, fingerRatios, thumbRatios, ' +
        'lateralOffsets, inputShape, batchInputShape, batchSize, dtype, name, trainable, weights, inputDType, ' +
        'customObjects), but received 4.',
    );
    expect(() => init21Layout({ lateralOffset: [0, 0, 0, 0, 0] } as never)).toThrow(
      'Init21Layout: args.lateralOffset must be an option',
    );
  });

  it("takes tfjs's own keys (name, trainable, inputShape, dtype); a saved model with it loads back", async () => {
    const layer = new Init21Layout({
      xyScale: 4,
      name: 'init21',
      trainable: false,
      inputShape: [6, 3],
      dtype: 'float32',
    });
    expect([layer.name, layer.trainable, layer.dtype]).toEqual(['init21', false, 'float32']);
    expect(layer.batchInputShape).toEqual([null, 6, 3]);
    const input = tfl.input({ shape: [6, 3] });
    const model = tfl.model({ inputs: input, outputs: layer.apply(input) as tfl.SymbolicTensor });
    // As tf.loadLayersModel reads model.json: every key of getConfig() plus the customObjects tfjs adds.
    const modelTopology: unknown = JSON.parse(JSON.stringify(model.toJSON(undefined, false)));
    const loaded = await tfl.models.modelFromJSON({ modelTopology } as Parameters<typeof tfl.models.modelFromJSON>[0]);
    expect(loaded.getLayer('init21')).toBeInstanceOf(Init21Layout);
    expect(loaded.getLayer('init21').getConfig()).toEqual(layer.getConfig());
    model.dispose();
    loaded.dispose();
  });
});

describe('importTorchStateDict: arguments and key collisions', () => {
  it('names a key given twice under two names, bad arguments, and honours stripPrefix', async () => {
    const model = importedTwStage();
    const good = readSafetensors(bytes('tw_stage.safetensors'));
    const zeros = tf.zerosLike(good['to_25d.bias']);
    // `module.k` and `k` (or a release name and ours) are one weight: silently one of them won.
    await expectFailsWithoutEffect(
      model,
      () => importTorchStateDict(model, { ...good, 'module.to_25d.bias': zeros }),
      "importTorchStateDict: tensors must be a state_dict naming each weight once, but received 'to_25d.bias and " +
        "module.to_25d.bias'.",
    );
    await expectFailsWithoutEffect(
      model,
      () => importTorchStateDict(model, null as never),
      'importTorchStateDict: tensors must be a record of PyTorch name → tf.Tensor, but received null.',
    );
    await expectFailsWithoutEffect(
      model,
      () => importTorchStateDict(model, good, null as never),
      'importTorchStateDict: options must be an object {strict?, stripPrefix?, only?}, but received null.',
    );
    await expectFailsWithoutEffect(
      model,
      () => importTorchStateDict(model, good, { stripPrefix: 'model.' }),
      /^importTorchStateDict: stripPrefix must be a prefix of every key \(.+\), but received 'model\.'\.$/,
    );
    const withModule = Object.fromEntries(Object.entries(good).map(([k, v]) => [`module.${k}`, v]));
    // An empty stripPrefix removes `module.` as before (the caller's options used to be overridden by '').
    expect(importTorchStateDict(model, withModule, { stripPrefix: '' }).loaded).toHaveLength(Object.keys(good).length);
    const prefixed = Object.fromEntries(Object.entries(good).map(([k, v]) => [`model.${k}`, v]));
    expect(importTorchStateDict(model, prefixed, { stripPrefix: 'model.' }).loaded).toHaveLength(
      Object.keys(good).length,
    );
    const whole = createEhpe(TINY_EHPE);
    await expectFailsWithoutEffect(
      whole,
      () => importTorchvisionBackbone(whole, null as never),
      'importTorchvisionBackbone: tensors must be a record of PyTorch name → tf.Tensor, but received null.',
    );
    const sd = exportTorchStateDict(whole);
    await expectFailsWithoutEffect(
      whole,
      () => importTorchStateDict(whole, { ...sd, 'backbone.conv1.weight': zeros }),
      "importTorchStateDict: tensors must be a state_dict naming each weight once, but received 'backbone.stem.0.weight " +
        "and backbone.conv1.weight'.",
    );
    tf.dispose([zeros, ...Object.values(good), ...Object.values(sd)]);
    model.dispose();
    whole.dispose();
  });
});

describe('exportTorchStateDict', () => {
  const sameBits = async (a: tf.Tensor, b: tf.Tensor) => {
    const [x, y] = await Promise.all([a.data(), b.data()]);
    return Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength));
  };

  it("import then export gives back every tensor of the release's TWStage and FEM state_dicts bit for bit", async () => {
    const models: [string, tfl.LayersModel][] = [
      ['tw_stage.safetensors', createTwStage({ ...twCase.config, featureSize: twCase.featuresNHWC.shape[1] })],
      ['fem.safetensors', createFem({ ...femCase.config, numImageTokens: femCase.imageTokens.shape[1] })],
    ];
    for (const [file, model] of models) {
      const official = readSafetensors(bytes(file));
      importTorchStateDict(model, official);
      const exported = exportTorchStateDict(model);
      expect(Object.keys(exported).sort(), file).toEqual(Object.keys(official).sort());
      for (const [key, t] of Object.entries(official)) {
        expect(exported[key].shape, `${file} ${key}`).toEqual(t.shape);
        expect(await sameBits(exported[key], t), `${file} ${key}`).toBe(true);
      }
      tf.dispose([...Object.values(official), ...Object.values(exported)]);
      model.dispose();
    }
  });

  it("a whole EHPE exports the release's names (backbone.stem.*, adj) and imports back into the same weights", async () => {
    const model = createEhpe(TINY);
    const sd = exportTorchStateDict(model);
    expect(Object.keys(sd)).toEqual(
      expect.arrayContaining(['backbone.stem.0.weight', 'backbone.stem.1.running_var', 'adj']),
    );
    expect(Object.keys(sd).some((k) => k.startsWith('backbone.conv1.'))).toBe(false);
    // adj: the skeleton with self-loops, as the release's build_adjacency(self_loops=True).
    const adj = (await sd.adj.array()) as number[][];
    expect(adj.flat().reduce((a, b) => a + b, 0)).toBe(21 + 40);
    const fresh = createEhpe(TINY);
    const report = importTorchStateDict(fresh, sd);
    expect(report.unexpected).toEqual([]);
    const again = exportTorchStateDict(fresh);
    for (const key of Object.keys(sd)) expect(await sameBits(again[key], sd[key]), key).toBe(true);
    tf.dispose([...Object.values(sd), ...Object.values(again)]);
    model.dispose();
    fresh.dispose();
  });
});
