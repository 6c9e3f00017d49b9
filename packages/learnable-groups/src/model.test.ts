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
  thrownBy,
  toTensor,
  useBackend,
} from '@phalanx/testing';
import { PhalanxConfigError } from '@phalanx/errors';
import { ConcreteJointSelector, GroupFusion, readSafetensors, SoftArgmax25D, writeSafetensors } from '@phalanx/layers';
import { createLearnableGroups, exportTorchStateDict, importTorchStateDict, type LearnableGroupsConfig } from './index';

// Reduced official network (scripts/make-fixture.py): PyTorch float64 outputs with the hard selector.
interface JsonTensor {
  shape: number[];
  data: number[];
}
const FIXTURE = new URL('../test/fixtures/lg-reduced/', import.meta.url);
const reduced = readJson<{
  config: LearnableGroupsConfig;
  inputNHWC: JsonTensor;
  uv: JsonTensor;
  depth: JsonTensor;
  groups: number[];
}>(new URL('case.json', FIXTURE));
const weightBytes = readFileSync(new URL('weights.safetensors', FIXTURE));

/** The smallest configuration: for shape, save/load, leak and selector tests. */
const TINY: LearnableGroupsConfig = {
  numGroups: 2,
  fusion: true,
  inputSize: 64,
  numJoints: 5,
  planes: [4, 4],
  hourglassFeatures: 4,
  stemChannels: [4, 4],
  neckChannels: 4,
  seed: 1,
};

function importedReduced(): tfl.LayersModel {
  const model = createLearnableGroups(reduced.config);
  const tensors = readSafetensors(weightBytes);
  importTorchStateDict(model, tensors);
  tf.dispose(Object.values(tensors));
  return model;
}

beforeAll(() => useBackend('cpu'));

describe('structure', () => {
  it('has the official layers under their PyTorch names and the documented outputs', () => {
    const model = createLearnableGroups(TINY);
    expect(model.inputs[0].shape).toEqual([null, 64, 64, 3]);
    expect(model.outputs.map((o) => o.shape)).toEqual([
      [null, 5, 2],
      [null, 5],
    ]);
    expect(model.outputNames).toEqual(['uv', 'depth']);
    const names = new Set(model.layers.map((l) => l.name));
    for (const n of [
      'backbone.conv1_',
      'backbone.hourglass.0.low2.low2.low2.low2_.1.conv3',
      'backbone.lin_.0.1',
      'backbone.tmpOut.0',
      'backbone_conv.0.skip_con.0',
      'b_up2.1.0.block.0',
      'b_up0.0.1.res_branch.4',
      'b_htmaps_conv.1.2',
      'b_depth_conv.0.0',
    ]) {
      expect(names.has(n), n).toBe(true);
    }
    expect(model.getLayer('nddr_layer0')).toBeInstanceOf(GroupFusion);
    expect(model.getLayer('meta_S')).toBeInstanceOf(ConcreteJointSelector);
    expect(model.getLayer('b_get_uv.1')).toBeInstanceOf(SoftArgmax25D);
    const noFusion = createLearnableGroups({ ...TINY, fusion: false });
    expect(noFusion.layers.some((l) => l instanceof GroupFusion)).toBe(false);
  });

  it('rejects bad configurations with named errors', () => {
    expect(() => createLearnableGroups({ ...TINY, numGroups: 1 })).toThrow(
      'createLearnableGroups: numGroups must be an integer in [2, 5], but received 1.',
    );
    // Every group needs a joint; sizes no model needs are refused before anything is built (1e9 groups or
    // channels built until out of memory).
    const start = performance.now();
    const cases: [LearnableGroupsConfig, string][] = [
      [{ numGroups: 22, numJoints: 21 }, 'numGroups must be an integer in [2, 21], but received 22.'],
      [{ numGroups: 5, numJoints: 4 }, 'numGroups must be an integer in [2, 4], but received 5.'],
      [{ numGroups: 1e9, numJoints: 21 }, 'numGroups must be an integer in [2, 21], but received 1000000000.'],
      [{ numJoints: 1e9 }, 'numJoints must be an integer in [2, 4096], but received 1000000000.'],
      [{ inputSize: 64 * 2 ** 20 }, 'inputSize must be an integer in [64, 4096], but received 67108864.'],
      [{ hourglassFeatures: 1e9 }, 'hourglassFeatures must be an integer in [2, 8192], but received 1000000000.'],
      [{ planes: [4, 1e9] }, 'planes must be an integer in [1, 8192], but received 1000000000.'],
      [{ neckChannels: 2 ** 20 }, 'neckChannels must be an integer in [1, 8192], but received 1048576.'],
    ];
    for (const [config, message] of cases) {
      expect(() => createLearnableGroups({ ...TINY, ...config }), message).toThrow(`createLearnableGroups: ${message}`);
    }
    expect(performance.now() - start).toBeLessThan(5000);
    expect(createLearnableGroups({ ...TINY, numGroups: 4, numJoints: 4 }).outputs.length).toBeGreaterThan(0);
    expect(() => createLearnableGroups({ ...TINY, inputSize: 96 })).toThrow(
      'createLearnableGroups: inputSize must be a multiple of 64, but received 96.',
    );
    expect(() => createLearnableGroups({ ...TINY, planes: [4] as unknown as [number, number] })).toThrow(
      'createLearnableGroups: planes must be a pair of integers, but received [4].',
    );
  });

  it('validates every list option and the selector options with named errors, before building anything', () => {
    const bad = (override: Record<string, unknown>) => () => createLearnableGroups({ ...TINY, ...override });
    expect(bad({ planes: [4, 2.5] })).toThrow(
      'createLearnableGroups: planes must be an integer in [1, 8192], but received 2.5.',
    );
    expect(bad({ planes: '44' })).toThrow(
      "createLearnableGroups: planes must be a pair of integers, but received '44'.",
    );
    expect(bad({ stemChannels: [4, 4, 4] })).toThrow(
      'createLearnableGroups: stemChannels must be a pair of integers, but received [4, 4, 4].',
    );
    expect(bad({ stemChannels: [0, 4] })).toThrow(
      'createLearnableGroups: stemChannels must be an integer in [1, 8192], but received 0.',
    );
    expect(bad({ inferenceMode: 'argmax' })).toThrow(
      "createLearnableGroups: inferenceMode must be one of 'hard', 'soft', but received 'argmax'.",
    );
    expect(bad({ initialTemperature: 0 })).toThrow(
      'createLearnableGroups: initialTemperature must be a finite number > 0, but received 0.',
    );
    // A misspelt option is named, not replaced by its default (3 groups).
    expect(bad({ numGroup: 2 })).toThrow(
      'createLearnableGroups: config.numGroup must be an option (one of numGroups, fusion, inputSize, numJoints, ' +
        'planes, hourglassFeatures, stemChannels, neckChannels, initialTemperature, inferenceMode, seed, name), ' +
        'but received 2.',
    );
    expect(() => createLearnableGroups('small' as never)).toThrow(
      "createLearnableGroups: config must be an options object, but received 'small'.",
    );
  });

  it('refuses what a layer would refuse late before building any weight (no tensor left behind)', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ seed: 1.5 }, 'seed must be an integer or null, but received 1.5.'],
      [{ seed: 2 ** 60 }, 'seed must be an integer or null, but received 1152921504606847000.'],
      [
        { initialTemperature: 1e-39 },
        'initialTemperature must be a positive normal float32 (1.1754944e-38 ≤ x ≤ 3.4028235e38), but received 1e-39.',
      ],
      [{ hourglassFeatures: 3 }, 'hourglassFeatures must be an even integer, but received 3.'],
      [{ stemChannels: [4, 5] }, 'stemChannels[1] must be an even integer, but received 5.'],
      [{ numJoints: 1, numGroups: 2 }, 'numJoints must be an integer in [2, 4096], but received 1.'],
      [{ name: 5 }, 'name must be a string, but received 5.'],
    ];
    for (const [override, message] of cases) {
      const before = tf.memory().numTensors;
      const error = thrownBy(() => createLearnableGroups({ ...TINY, ...override }));
      expect(error, message).toBeInstanceOf(PhalanxConfigError);
      expect((error as Error).message).toBe(`createLearnableGroups: ${message}`);
      expect(tf.memory().numTensors, message).toBe(before);
    }
  });
});

forEachBackend((backend) => {
  describe('parity with the official PyTorch network (reduced fixture)', () => {
    it('uv and depth match with the hard selector', () => {
      const model = importedReduced();
      const x = toTensor(reduced.inputNHWC);
      const [uv, depth] = model.predict(x) as tf.Tensor[];
      expectClose(uv, toTensor(reduced.uv), { rtol: 0, atol: 2e-3 }, `uv on ${backend}`);
      expectClose(depth, toTensor(reduced.depth), { rtol: 0, atol: 1e-5 }, `depth on ${backend}`);
      const selector = model.getLayer('meta_S') as ConcreteJointSelector;
      expect(
        selector
          .groups()
          .flatMap((js, g) => js.map((j) => [j, g]))
          .sort((a, b) => a[0] - b[0])
          .map((p) => p[1]),
      ).toEqual(reduced.groups);
      tf.dispose([x, uv, depth]);
    });
  });

  describe('model checks', () => {
    it('inference combines the branches with the hard selector; training samples', () => {
      const model = createLearnableGroups(TINY);
      const selector = model.getLayer('meta_S') as ConcreteJointSelector;
      const logits = tf.tensor2d([
        [2, 0],
        [0, 1],
        [0.5, 0.4],
        [-1, 1],
        [3, 3.5],
      ]);
      selector.setWeights([logits, selector.getWeights()[1]]);
      const x = tf.randomUniform([2, 64, 64, 3], 0, 1, 'float32', 5);
      const stackModel = tfl.model({
        inputs: model.inputs,
        outputs: model.getLayer('groups.stack').output as tfl.SymbolicTensor,
      });
      const stack = stackModel.predict(x) as tf.Tensor; // [B, G, J, 3]
      const [uv, depth] = model.predict(x) as tf.Tensor[];
      const s = stack.arraySync() as number[][][][];
      const groupOf = [0, 1, 0, 1, 1];
      const expectedUv = s.map((b) => groupOf.map((g, j) => [4 * b[g][j][0], 4 * b[g][j][1]]));
      const expectedDepth = s.map((b) => groupOf.map((g, j) => b[g][j][2]));
      expectClose(uv, tf.tensor(expectedUv), { rtol: 1e-6, atol: 1e-5 }, 'hard uv');
      expectClose(depth, tf.tensor(expectedDepth), { rtol: 1e-6, atol: 1e-6 }, 'hard depth');
      // Training mode draws a Concrete sample: a soft mixture, different from the hard pick.
      const [uvTrain] = model.apply(x, { training: true }) as tf.Tensor[];
      expect(tf.max(tf.abs(tf.sub(uvTrain, uv))).dataSync()[0]).toBeGreaterThan(1e-4);
      tf.dispose([logits, x, stack, uv, depth, uvTrain]);
    });

    it('save → load through disk gives identical outputs', async () => {
      const model = importedReduced();
      const x = toTensor(reduced.inputNHWC);
      const loaded = await expectSaveLoadIdentical(model, [x]);
      expect((loaded.getLayer('meta_S') as ConcreteJointSelector).groups()).toEqual(
        (model.getLayer('meta_S') as ConcreteJointSelector).groups(),
      );
      x.dispose();
    });

    it('no tensor leaks in predict' + (backend === 'cpu' ? ' and training steps' : ''), async () => {
      const model = createLearnableGroups(TINY);
      const x = tf.randomUniform([1, 64, 64, 3], 0, 1, 'float32', 2);
      // wasm lacks Conv2DBackpropFilter without @phalanx/wasm-training: train on cpu only.
      if (backend === 'cpu') await expectNoLeakInPredictAndTrain(model, [x]);
      else await expectNoTensorLeak(() => tf.dispose(model.predict(x) as tf.Tensor[]), 'predict');
      x.dispose();
    });
  });
});

describe('importTorchStateDict', () => {
  const shortened = (drop: string[], extra: Record<string, tf.Tensor> = {}) => {
    const tensors = readSafetensors(weightBytes);
    for (const k of drop) {
      tensors[k].dispose();
      delete tensors[k];
    }
    return { ...tensors, ...extra };
  };

  it('strict mode lists every missing and unexpected key', () => {
    const model = createLearnableGroups(reduced.config);
    const tensors = shortened(['meta_S.weight', 'b_up2.1.0.block.1.running_var'], { 'b_extra.weight': tf.ones([2]) });
    let message = '';
    try {
      importTorchStateDict(model, tensors);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toBe(
      "loadTorchStateDict: tensors must be a state_dict matching the model exactly, but received 'missing keys: " +
        "b_up2.1.0.block.1.running_var, meta_S.weight; unexpected keys: b_extra.weight'.",
    );
    const report = importTorchStateDict(model, tensors, { strict: false });
    expect(report.missing.sort()).toEqual(['b_up2.1.0.block.1.running_var', 'meta_S.weight']);
    expect(report.unexpected).toEqual(['b_extra.weight']);
    tf.dispose(Object.values(tensors));
  });

  it('rejects wrong shapes, a non-pixel SoftHeatmap grid, and sets the temperature', () => {
    const model = createLearnableGroups(reduced.config);
    const bad = shortened(['meta_S.weight'], { 'meta_S.weight': tf.zeros([3, 21]) });
    expect(() => importTorchStateDict(model, bad)).toThrow(
      "loadTorchStateDict: tensor 'meta_S.weight' must be of shape [21, 3], but received [3, 21].",
    );
    tf.dispose(Object.values(bad));
    const shifted = shortened(['b_get_uv.0.wx'], {
      'b_get_uv.0.wx': tf.add(tf.tile(tf.reshape(tf.range(0, 16), [1, 16]), [16, 1]), 0.5),
    });
    expect(() => importTorchStateDict(model, shifted)).toThrow(
      "loadTorchStateDict: tensor 'b_get_uv.0.wx' must be the pixel grid arange(0, size), but received '0.5 at [0, 0]'.",
    );
    tf.dispose(Object.values(shifted));
    const good = shortened([]);
    const withModule = Object.fromEntries(Object.entries(good).map(([k, v]) => [`module.${k}`, v]));
    const report = importTorchStateDict(model, withModule, { temperature: 0.25 });
    expect(report.loaded).toHaveLength(Object.keys(good).length);
    expect((model.getLayer('meta_S') as ConcreteJointSelector).getTemperature()).toBeCloseTo(0.25, 6);
    tf.dispose(Object.values(good));
  });
});

describe('importTorchStateDict: all or nothing', () => {
  it('a failed import writes nothing and leaves no tensor behind (shape, NaN, negative running_var, temperature)', async () => {
    const model = importedReduced();
    const tensors = readSafetensors(weightBytes);
    const wrong = tf.zeros([3, 21]);
    const nan = tf.tidy(() => tf.mul(tensors['b_depth_conv.2.2.weight'], NaN));
    const negative = tf.tidy(() => tf.neg(tensors['backbone_conv.1.res_branch.1.running_var']));
    for (const [bad, error] of [
      [
        { 'meta_S.weight': wrong },
        "loadTorchStateDict: tensor 'meta_S.weight' must be of shape [21, 3], but received [3, 21].",
      ],
      [{ 'b_depth_conv.2.2.weight': nan }, /tensor 'b_depth_conv\.2\.2\.weight' must be finite/],
      [{ 'backbone_conv.1.res_branch.1.running_var': negative }, /running_var' must be a variance/],
    ] as const) {
      await expectFailsWithoutEffect(model, () => importTorchStateDict(model, { ...tensors, ...bad }), error);
    }
    await expectFailsWithoutEffect(
      model,
      () => importTorchStateDict(model, tensors, { temperature: 0 }),
      'importTorchStateDict: temperature must be a finite number > 0, but received 0.',
    );
    tf.dispose([wrong, nan, negative, ...Object.values(tensors)]);
    model.dispose();
  });

  it('a temperature the selector cannot store, or options that are not an object, write nothing', async () => {
    const model = importedReduced();
    const tensors = readSafetensors(weightBytes);
    // Perturbed weights: a late failure would have written them.
    const changed = tf.tidy(() =>
      Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, k.endsWith('.weight') ? tf.mul(t, 2) : t])),
    );
    const float32 = 'a positive normal float32 (1.1754944e-38 ≤ x ≤ 3.4028235e38)';
    for (const [temperature, shown] of [
      [1e-40, '1e-40'],
      [1e39, '1e+39'],
    ] as const) {
      await expectFailsWithoutEffect(
        model,
        () => importTorchStateDict(model, changed, { temperature }),
        `importTorchStateDict: temperature must be ${float32}, but received ${shown}.`,
      );
    }
    await expectFailsWithoutEffect(
      model,
      () => importTorchStateDict(model, changed, null as never),
      'importTorchStateDict: options must be an object {strict?, stripPrefix?, only?, temperature?}, but received null.',
    );
    await expectFailsWithoutEffect(
      model,
      () => importTorchStateDict(model, changed, { temprature: 0.5 } as never),
      /importTorchStateDict: options\.temprature must be an option \(one of strict, stripPrefix, only, temperature\)/,
    );
    tf.dispose([...Object.values(changed), ...Object.values(tensors)]);
    model.dispose();
  });
});

describe('exportTorchStateDict', () => {
  it('import then export gives back every tensor of the official state_dict bit for bit', async () => {
    const model = createLearnableGroups(reduced.config);
    const official = readSafetensors(weightBytes);
    importTorchStateDict(model, official);
    const exported = exportTorchStateDict(model);
    expect(Object.keys(exported).sort()).toEqual(Object.keys(official).sort());
    for (const [key, t] of Object.entries(official)) {
      expect(exported[key].shape, key).toEqual(t.shape);
      const [a, b] = await Promise.all([exported[key].data(), t.data()]);
      expect(
        Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength)),
        key,
      ).toBe(true);
    }
    // Through safetensors bytes and back into a fresh model: the same outputs.
    const again = createLearnableGroups(reduced.config);
    const bytes = writeSafetensors(exported);
    const read = readSafetensors(bytes);
    importTorchStateDict(again, read);
    const x = toTensor(reduced.inputNHWC);
    const [y1, y2] = [model.predict(x) as tf.Tensor[], again.predict(x) as tf.Tensor[]];
    y1.forEach((t, k) => expectClose(y2[k], t, { rtol: 0, atol: 0 }, `output ${k}`));
    tf.dispose([...Object.values(official), ...Object.values(exported), ...Object.values(read), x, ...y1, ...y2]);
    model.dispose();
    again.dispose();
  });
});
