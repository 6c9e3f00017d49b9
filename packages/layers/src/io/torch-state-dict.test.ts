import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { expectFailsWithoutEffect, modelAround, useBackend } from '@phalanx/testing';
import { multiHeadAttention } from '../attention/multi-head-attention';
import { dualBranchFusion } from '../fusion/dual-branch-fusion';
import { groupFusion } from '../fusion/group-fusion';
import { dynamicEdgeGAT } from '../graph/dynamic-edge-gat';
import { softArgmax25D } from '../keypoints/soft-argmax-25d';
import { lastAxisLayerNormalization } from '../normalization/last-axis-layer-norm';
import { leanBatchNormalization } from '../normalization/lean-batch-norm';
import { concreteJointSelector } from '../selector/concrete-joint-selector';
import { readSafetensors, writeSafetensors } from './safetensors';
import { torchConverterOf } from './torch-converters';
import { importTorchWeights } from './torch-import';
import { loadTorchStateDict, torchStateDict } from './torch-state-dict';

/** Random PyTorch tensors for every param of every layer of `model` (variances > 0), by key. */
function randomStateDict(model: tfl.LayersModel, seed: number): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const layer of model.layers) {
    const params = torchConverterOf(layer)?.params(layer) ?? [];
    params.forEach((p, i) => {
      const key = `${layer.name}.${p.name}`;
      out[key] = p.nonNegative
        ? tf.randomUniform(p.shape, 0.5, 2, 'float32', seed + i)
        : tf.randomNormal(p.shape, 0, 1, 'float32', seed + i);
    });
  }
  return out;
}

async function bits(t: tf.Tensor): Promise<number[]> {
  return Array.from(new Uint32Array((await t.data()).slice().buffer));
}

/** One model per registered converter (and both layouts of nn.MultiheadAttention). */
const CASES: [string, () => tfl.LayersModel][] = [
  ['Conv2D', () => modelAround(tfl.layers.conv2d({ filters: 4, kernelSize: 3, name: 'conv' }), [[6, 6, 3]])],
  [
    'Conv2DTranspose',
    () => modelAround(tfl.layers.conv2dTranspose({ filters: 2, kernelSize: 3, strides: 2, name: 'up' }), [[4, 4, 3]]),
  ],
  [
    'DepthwiseConv2D',
    () => modelAround(tfl.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, name: 'dw' }), [[5, 5, 3]]),
  ],
  ['Dense', () => modelAround(tfl.layers.dense({ units: 3, name: 'fc' }), [[4]])],
  ['BatchNormalization', () => modelAround(tfl.layers.batchNormalization({ name: 'bn' }), [[3, 3, 4]])],
  ['LayerNormalization', () => modelAround(tfl.layers.layerNormalization({ name: 'ln' }), [[5, 4]])],
  ['LeanBatchNormalization', () => modelAround(leanBatchNormalization({ name: 'bn' }), [[3, 3, 4]])],
  ['LastAxisLayerNormalization', () => modelAround(lastAxisLayerNormalization({ name: 'ln' }), [[5, 4]])],
  [
    'GroupFusion',
    () =>
      modelAround(groupFusion({ numGroups: 3, units: 2, name: 'nddr' }), [
        [2, 2, 4],
        [2, 2, 4],
        [2, 2, 4],
      ]),
  ],
  [
    'ConcreteJointSelector',
    () => modelAround(concreteJointSelector({ numJoints: 5, numGroups: 3, name: 'meta_S' }), [[3, 5, 2]]),
  ],
  [
    'DualBranchFusion',
    () =>
      modelAround(dualBranchFusion({ numJoints: 21, name: 'pg' }), [
        [21, 4],
        [21, 4],
      ]),
  ],
  ['DynamicEdgeGAT additive', () => modelAround(dynamicEdgeGAT({ units: 3, heads: 2, name: 'gat' }), [[21, 5]])],
  [
    'DynamicEdgeGAT dotProduct',
    () => modelAround(dynamicEdgeGAT({ units: 3, heads: 2, attention: 'dotProduct', name: 'gat' }), [[21, 5]]),
  ],
  [
    'SoftArgmax25D (SoftHeatmap)',
    () =>
      modelAround(softArgmax25D({ mode: 'latent', numJoints: 3, trainableBeta: true, name: 'uv' }), [
        [6, 6, 3],
        [6, 6, 3],
      ]),
  ],
  [
    'MultiHeadAttention packed',
    () =>
      modelAround(multiHeadAttention({ numHeads: 2, units: 4, name: 'attn' }), [
        [5, 4],
        [7, 4],
      ]),
  ],
  [
    'MultiHeadAttention q/k/v',
    () =>
      modelAround(multiHeadAttention({ numHeads: 2, units: 4, name: 'attn' }), [
        [5, 4],
        [7, 6],
      ]),
  ],
];

describe('the converter registry, both ways', () => {
  it('import then export gives back every tensor bit for bit, for every registered converter', async () => {
    await useBackend('cpu');
    for (const [name, build] of CASES) {
      const model = build();
      const sd = randomStateDict(model, 11);
      const extra = torchStateDict(model); // buffers the layer computes (SoftHeatmap grids) ride along
      for (const [k, t] of Object.entries(extra)) if (!(k in sd)) sd[k] = t.clone();
      tf.dispose(Object.values(extra));
      const report = loadTorchStateDict(model, sd);
      expect(report.loaded.sort(), name).toEqual(Object.keys(sd).sort());
      const back = torchStateDict(model);
      expect(Object.keys(back).sort(), name).toEqual(Object.keys(sd).sort());
      for (const k of Object.keys(sd)) {
        expect(back[k].shape, `${name} ${k}`).toEqual(sd[k].shape);
        expect(await bits(back[k]), `${name} ${k}`).toEqual(await bits(sd[k]));
      }
      tf.dispose([...Object.values(sd), ...Object.values(back)]);
      model.dispose();
    }
  });

  it('the export is a safetensors state_dict; it names the SoftHeatmap grids, not the temperature', async () => {
    await useBackend('cpu');
    const uv = CASES.find(([n]) => n.startsWith('SoftArgmax25D'))![1]();
    const sd = torchStateDict(uv);
    expect(Object.keys(sd).sort()).toEqual(['uv.beta.weight', 'uv.wx', 'uv.wy']);
    expect(await sd['uv.wx'].array()).toEqual(Array.from({ length: 6 }, () => [0, 1, 2, 3, 4, 5]));
    const again = readSafetensors(writeSafetensors(sd));
    expect(await bits(again['uv.wy'])).toEqual(await bits(sd['uv.wy']));
    tf.dispose([...Object.values(sd), ...Object.values(again)]);
    const selector = CASES.find(([n]) => n === 'ConcreteJointSelector')![1]();
    const s = torchStateDict(selector);
    expect(Object.keys(s)).toEqual(['meta_S.weight']);
    tf.dispose(Object.values(s));
    const custom = modelAround(tfl.layers.embedding({ inputDim: 4, outputDim: 2, name: 'emb' }), [[3]]);
    expect(() => torchStateDict(custom)).toThrow(
      "torchStateDict: model must be layers that all have a PyTorch converter, but received 'emb.embeddings (Embedding)'.",
    );
  });
});

/** conv → lean batch norm → flatten → dense, with a state_dict for it. */
function small(): { model: tfl.LayersModel; sd: Record<string, tf.Tensor> } {
  const x = tfl.input({ shape: [4, 4, 3] });
  const c = tfl.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same', name: 'conv' }).apply(x);
  const b = leanBatchNormalization({ name: 'bn' }).apply(c);
  const f = tfl.layers.flatten({ name: 'flat' }).apply(b);
  const d = tfl.layers.dense({ units: 2, name: 'fc' }).apply(f) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: x, outputs: d });
  return { model, sd: randomStateDict(model, 3) };
}

describe('all or nothing, no leaks', () => {
  it('every failure throws a named error before any weight is written and leaves no tensor behind', async () => {
    await useBackend('cpu');
    const { model, sd } = small();
    const nan = tf.tidy(() => tf.where(tf.tensor1d([true, false]), tf.tensor1d([NaN, NaN]), sd['fc.bias']));
    const inf = tf.tidy(() => tf.mul(sd['conv.weight'], Infinity));
    const negative = tf.tensor1d([1, -0.5]);
    const cases: [string, Record<string, tf.Tensor>, string | RegExp | typeof PhalanxShapeError][] = [
      ['a shape error (last layer)', { ...sd, 'fc.weight': tf.zeros([3, 32]) }, PhalanxShapeError],
      [
        'a NaN weight',
        { ...sd, 'fc.bias': nan },
        "loadTorchStateDict: tensor 'fc.bias' must be finite (no NaN or ±Infinity), but received '1 non-finite values'.",
      ],
      ['an infinite weight', { ...sd, 'conv.weight': inf }, /tensor 'conv.weight' must be finite/],
      [
        'a negative running_var',
        { ...sd, 'bn.running_var': negative },
        "loadTorchStateDict: tensor 'bn.running_var' must be a variance (every value ≥ 0), but received '1 negative values'.",
      ],
      [
        'a bool tensor',
        { ...sd, 'bn.bias': tf.tensor1d([true, false], 'bool') },
        "loadTorchStateDict: tensor 'bn.bias' must be a float32 or int32 tensor, but received 'bool'.",
      ],
      [
        'a missing key',
        Object.fromEntries(Object.entries(sd).filter(([k]) => k !== 'bn.weight')),
        /missing keys: bn\.weight/,
      ],
      ['an unexpected key', { ...sd, 'head.weight': tf.zeros([1]) }, /unexpected keys: head\.weight/],
      [
        'a prefix that is not one',
        sd,
        "loadTorchStateDict: stripPrefix must be a prefix of every key (conv.weight), but received 'x.'.",
      ],
    ];
    for (const [name, tensors, error] of cases) {
      const options = name.startsWith('a prefix') ? { stripPrefix: 'x.' } : {};
      await expectFailsWithoutEffect(model, () => loadTorchStateDict(model, tensors, options), error);
      expect(name).toBeTruthy();
    }
    // The same tensors, correct, load; a PhalanxConfigError of every case above is also a named class.
    expect(() => loadTorchStateDict(model, { ...sd, 'fc.bias': nan })).toThrow(PhalanxConfigError);
    expect(loadTorchStateDict(model, sd).loaded).toHaveLength(8);
    tf.dispose([nan, inf, negative, ...Object.values(sd)]);
    model.dispose();
  });

  it('int32 tensors are cast; non-strict loads what matches and reports the rest', async () => {
    await useBackend('cpu');
    const { model, sd } = small();
    const ints = tf.tensor1d([3, 4], 'int32');
    const partial = Object.fromEntries(Object.entries(sd).filter(([k]) => k !== 'fc.bias'));
    const report = loadTorchStateDict(model, { ...partial, 'bn.bias': ints, extra: tf.zeros([1]) }, { strict: false });
    expect(report.missing).toEqual(['fc.bias']);
    expect(report.unexpected).toEqual(['extra']);
    expect(await model.getLayer('bn').getWeights()[1].array()).toEqual([3, 4]);
    expect(await bits(model.getLayer('fc').getWeights()[0])).toEqual(await bits(tf.transpose(sd['fc.weight'])));
    tf.dispose([ints, ...Object.values(sd)]);
    model.dispose();
  });

  it('importTorchWeights is all or nothing too, in strict and non-strict mode', async () => {
    await useBackend('cpu');
    const { model, sd } = small();
    const mapping = [
      { torch: 'conv', layer: 'conv', kind: 'conv2d' as const },
      { torch: 'bn', layer: 'bn', kind: 'batchNorm' as const },
      { torch: 'fc', layer: 'fc', kind: 'dense' as const },
    ];
    const dw = tfl.layers.depthwiseConv2d({ kernelSize: 3, name: 'dw' });
    const dwModel = modelAround(dw, [[5, 5, 2]]);
    const nan = tf.fill([2], NaN);
    const wide = tf.zeros([3, 32]);
    const dwTensors = { 'dw.weight': tf.zeros([3, 1, 3, 3]), 'dw.bias': tf.zeros([2]) };
    await expectFailsWithoutEffect(
      model,
      () => importTorchWeights(model, { ...sd, 'fc.weight': wide }, mapping),
      /mismatched/,
    );
    await expectFailsWithoutEffect(
      model,
      () => importTorchWeights(model, { ...sd, 'bn.running_var': nan }, mapping, { strict: false }),
      /bn\.running_var' must be finite/,
    );
    await expectFailsWithoutEffect(
      dwModel,
      () => importTorchWeights(dwModel, dwTensors, [{ torch: 'dw', layer: 'dw', kind: 'depthwiseConv2d' }]),
      /dw\.weight → dw.*expected \[2,1,3,3\], got \[3,1,3,3\]/,
    );
    expect(importTorchWeights(model, sd, mapping).loaded).toHaveLength(8);
    tf.dispose([nan, wide, ...Object.values(dwTensors), ...Object.values(sd)]);
    model.dispose();
    dwModel.dispose();
  });
});

describe('all or nothing: arguments', () => {
  it('arguments of the wrong type, a disposed tensor or an unknown option are named errors, with no effect', async () => {
    await useBackend('cpu');
    const { model, sd } = small();
    const mapping = [{ torch: 'fc', layer: 'fc', kind: 'dense' as const }];
    const gone = tf.zeros([2]);
    gone.dispose();
    const load = (tensors: unknown, options?: unknown) =>
      loadTorchStateDict(model, tensors as Record<string, tf.Tensor>, options as never);
    const cases: [() => unknown, string][] = [
      [
        () => load(null),
        'loadTorchStateDict: tensors must be a record of PyTorch name → tf.Tensor, but received null.',
      ],
      [
        () => load({ ...sd, 'fc.bias': 5 }),
        "loadTorchStateDict: tensors['fc.bias'] must be a tf.Tensor, but received 'number'.",
      ],
      [
        () => load({ ...sd, 'fc.bias': gone }),
        "loadTorchStateDict: tensors['fc.bias'] must be a tensor that is not disposed, but received 'a disposed tensor'.",
      ],
      [
        () => load(sd, null),
        'loadTorchStateDict: options must be an object {strict?, stripPrefix?, only?}, but received null.',
      ],
      [
        () => load(sd, { stirct: false }),
        'loadTorchStateDict: options.stirct must be an option (one of strict, stripPrefix, only)',
      ],
      [
        () => load(sd, { only: 'fc' }),
        "loadTorchStateDict: only must be a RegExp or a function (layerName) → boolean, but received 'fc'.",
      ],
      [
        () => loadTorchStateDict(null as never, sd),
        'loadTorchStateDict: model must be a tf.LayersModel, but received null.',
      ],
      [() => torchStateDict({} as never), "torchStateDict: model must be a tf.LayersModel, but received 'object'."],
      [
        () => importTorchWeights(null as never, sd, mapping),
        'importTorchWeights: target must be a tf.LayersModel, a layer or a list of layers',
      ],
      [
        () => importTorchWeights(model, sd, null as never),
        'importTorchWeights: mapping must be a list of {torch, layer, kind} entries',
      ],
      [
        () => importTorchWeights(model, sd, [null as never]),
        'importTorchWeights: mapping[0] must be an object {torch, layer, kind}',
      ],
      [
        () => importTorchWeights(model, null as never, mapping),
        'importTorchWeights: tensors must be a record of PyTorch name → tf.Tensor',
      ],
      [
        () => importTorchWeights(model, { ...sd, 'fc.weight': gone }, mapping),
        "importTorchWeights: tensors['fc.weight'] must be a tensor that is not disposed",
      ],
      [
        () => importTorchWeights(model, sd, mapping, null as never),
        'importTorchWeights: options must be an object {strict?}',
      ],
    ];
    for (const [f, message] of cases) {
      expect(f, message).toThrow(PhalanxConfigError);
      await expectFailsWithoutEffect(model, f, message);
    }
    tf.dispose(Object.values(sd));
    model.dispose();
  });
});
