import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  expectClose,
  expectNoLeakInPredictAndTrain,
  expectSaveLoadIdentical,
  forEachBackend,
  readJson,
  toTensor,
  useBackend,
} from '@phalanx/testing';
import { PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { loadTorchStateDict, readSafetensors } from '@phalanx/layers';
import {
  addAll,
  bottleneckResidual,
  crossAttentionBlock,
  residualHourglass,
  resnetBlock,
  torchLinear,
  torchMaxPool,
  transformerBlock,
  basic2dBlock,
  channelsOf,
  concatChannels,
  downsampleConv2dR,
  hourglass,
  hourglassBackbone,
  nddrBlock,
  preActResidual,
  refinementModule,
  stackedHourglass,
  res2dBlock,
  splitTorchKey,
  torchConv2d,
  torchConvTranspose2d,
  resnetBackbone,
  torchName,
  upsample2dBlockR,
} from './index';

// Reference outputs of the official PyTorch blocks (float64, eval mode), made by scripts/make-fixtures.py.
interface JsonTensor {
  shape: number[];
  data: number[];
}
interface BlockCase {
  block: string;
  outChannels?: number;
  kernelSize?: number;
  depth?: number;
  numModules?: number;
  input?: JsonTensor;
  output?: JsonTensor;
  inputs?: JsonTensor[];
  outputs?: JsonTensor[];
}
const FIXTURES = new URL('../test/fixtures/', import.meta.url);
const fixture = readJson<{ cases: Record<string, BlockCase> }>(new URL('blocks.json', FIXTURES).pathname);
const stateBytes = readFileSync(new URL('blocks.safetensors', FIXTURES));

/** The fixture's tensors of one case, with the `<case>.` prefix removed (a state_dict of that block). */
function stateDictOf(caseName: string): Record<string, tf.Tensor> {
  const all = readSafetensors(stateBytes);
  const out: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(all)) {
    if (k.startsWith(`${caseName}.`)) out[k.slice(caseName.length + 1)] = v;
    else v.dispose();
  }
  return out;
}

type Sym = tfl.SymbolicTensor;
const BUILDERS: Record<string, (x: Sym, c: BlockCase) => Sym> = {
  preActResidual: (x, c) => preActResidual(x, { outChannels: c.outChannels!, name: PREFIX }),
  hourglass: (x, c) => hourglass(x, { depth: c.depth!, numModules: c.numModules!, name: PREFIX }),
  basic2dBlock: (x, c) => basic2dBlock(x, { outChannels: c.outChannels!, kernelSize: c.kernelSize!, name: PREFIX }),
  res2dBlock: (x, c) => res2dBlock(x, { outChannels: c.outChannels!, name: PREFIX }),
  downsampleConv2dR: (x, c) => downsampleConv2dR(x, { outChannels: c.outChannels!, name: PREFIX }),
  upsample2dBlockR: (x, c) => upsample2dBlockR(x, { outChannels: c.outChannels!, name: PREFIX }),
};
// PyTorch state_dicts of a lone module have no prefix; our layers need one, so the keys get 'm.'.
const PREFIX = 'm';
const prefixed = (sd: Record<string, tf.Tensor>) =>
  Object.fromEntries(Object.entries(sd).map(([k, v]) => [`${PREFIX}.${k}`, v]));

function modelFor(caseName: string): tfl.LayersModel {
  const c = fixture.cases[caseName];
  const x = tfl.input({ shape: c.input!.shape.slice(1) });
  const model = tfl.model({ inputs: x, outputs: BUILDERS[c.block](x, c) });
  const sd = prefixed(stateDictOf(caseName));
  loadTorchStateDict(model, sd);
  tf.dispose(Object.values(sd));
  return model;
}

const TOL = { rtol: 1e-4, atol: 1e-4 };

// The describes outside forEachBackend build layers too: give them a ready backend.
beforeAll(() => useBackend('cpu'));

describe('naming', () => {
  it('joins PyTorch paths and splits state_dict keys', () => {
    expect(torchName('backbone', 'hourglass', 0, '', 'up1_', 1)).toBe('backbone.hourglass.0.up1_.1');
    expect(splitTorchKey('b_up1.0.1.block.0.weight')).toEqual({ module: 'b_up1.0.1.block.0', param: 'weight' });
    expect(() => torchName('bad name')).toThrow(/torchName: name must be a valid layer name/);
    expect(() => splitTorchKey('weight')).toThrow(PhalanxConfigError);
    expect(() => splitTorchKey(null as never)).toThrow(
      "splitTorchKey: key must be a 'module.param' state_dict key, but received null.",
    );
  });

  it('names the layers after the PyTorch modules', () => {
    const x = tfl.input({ shape: [8, 8, 4] });
    const model = tfl.model({ inputs: x, outputs: res2dBlock(x, { outChannels: 6, name: 'b_conv1.2' }) });
    const names = model.layers.filter((l) => l.weights.length > 0).map((l) => l.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'b_conv1.2.res_branch.0',
        'b_conv1.2.res_branch.1',
        'b_conv1.2.res_branch.3',
        'b_conv1.2.res_branch.4',
        'b_conv1.2.skip_con.0',
        'b_conv1.2.skip_con.1',
      ]),
    );
  });
});

forEachBackend((backend) => {
  describe('blocks match the official PyTorch modules', () => {
    for (const caseName of Object.keys(fixture.cases).filter((k) => k !== 'nddr')) {
      it(`${caseName} (${fixture.cases[caseName].block})`, () => {
        const c = fixture.cases[caseName];
        const model = modelFor(caseName);
        const x = toTensor(c.input!);
        const y = model.predict(x) as tf.Tensor;
        expect(y.shape).toEqual(c.output!.shape);
        expectClose(y, toTensor(c.output!), TOL, `${caseName} on ${backend}`);
        tf.dispose([x, y]);
      });
    }

    it('nddr block (GroupFusion + BN + ReLU per group)', () => {
      const c = fixture.cases.nddr;
      const inputs = c.inputs!.map((t) => tfl.input({ shape: t.shape.slice(1) }));
      const model = tfl.model({ inputs, outputs: nddrBlock(inputs, { name: 'nddr_layer0' }) });
      const sd = stateDictOf('nddr');
      const renamed = Object.fromEntries(Object.entries(sd).map(([k, v]) => [`nddr_layer0.${k}`, v]));
      const report = loadTorchStateDict(model, renamed);
      expect(report.loaded.length).toBe(Object.keys(sd).length);
      tf.dispose(Object.values(sd));
      const xs = c.inputs!.map((t) => toTensor(t));
      const ys = model.predict(xs) as tf.Tensor[];
      ys.forEach((y, i) => expectClose(y, toTensor(c.outputs![i]), TOL, `nddr group ${i}`));
      tf.dispose([...xs, ...ys]);
    });
  });

  describe('geometry', () => {
    it('a stride-2 convolution with PyTorch padding 1 samples the grid PyTorch samples', () => {
      // 1×1 identity-like 3×3 kernel picking the centre: output (i, j) = input (2i, 2j).
      const x = tfl.input({ shape: [6, 6, 1] });
      const y = torchConv2d(x, { filters: 1, kernelSize: 3, stride: 2, padding: 1, useBias: false, name: 'c' });
      const model = tfl.model({ inputs: x, outputs: y });
      const k = tf.buffer([3, 3, 1, 1]);
      k.set(1, 1, 1, 0, 0);
      model.getLayer('c').setWeights([k.toTensor()]);
      const input = tf.reshape(tf.range(0, 36), [1, 6, 6, 1]);
      const out = model.predict(input) as tf.Tensor;
      expect(Array.from(out.dataSync())).toEqual([0, 2, 4, 12, 14, 16, 24, 26, 28]);
      expect(model.layers.map((l) => l.name)).toContain('c.pad');
    });

    it("transposed conv k4 s2 p1: 'same' equals 'valid' + crop 1, and equals the direct definition", () => {
      const [h, w, cin, cout] = [3, 4, 2, 3];
      const kernel = tf.randomNormal([4, 4, cout, cin], 0, 1, 'float32', 7);
      const bias = tf.randomNormal([cout], 0, 1, 'float32', 8);
      const xv = tf.randomNormal([2, h, w, cin], 0, 1, 'float32', 9);
      const build = (padding: number) => {
        const x = tfl.input({ shape: [h, w, cin] });
        return tfl.model({
          inputs: x,
          outputs: torchConvTranspose2d(x, { filters: cout, kernelSize: 4, stride: 2, padding, name: 't' }),
        });
      };
      const same = build(1); // 'same' path
      same.getLayer('t').setWeights([kernel, bias]);
      const full = build(0); // 'valid', no crop
      full.getLayer('t').setWeights([kernel, bias]);
      const a = same.predict(xv) as tf.Tensor;
      const fullOut = full.predict(xv) as tf.Tensor;
      expect(a.shape).toEqual([2, 2 * h, 2 * w, cout]);
      expect(fullOut.shape).toEqual([2, 2 * h + 2, 2 * w + 2, cout]);
      expectClose(
        a,
        tf.slice(fullOut, [0, 1, 1, 0], [2, 2 * h, 2 * w, cout]),
        { rtol: 1e-5, atol: 1e-5 },
        'same vs crop',
      );
      // Direct definition (PyTorch): out[2i + a − p][2j + b − p][o] += x[i][j][c] · W[c][o][a][b].
      const X = xv.arraySync() as number[][][][];
      const K = kernel.arraySync() as number[][][][];
      const Bv = bias.arraySync() as number[];
      const ref = tf.buffer([2, 2 * h, 2 * w, cout]);
      for (let n = 0; n < 2; n++)
        for (let oy = 0; oy < 2 * h; oy++)
          for (let ox = 0; ox < 2 * w; ox++) for (let o = 0; o < cout; o++) ref.set(Bv[o], n, oy, ox, o);
      for (let n = 0; n < 2; n++)
        for (let i = 0; i < h; i++)
          for (let j = 0; j < w; j++)
            for (let a2 = 0; a2 < 4; a2++)
              for (let b2 = 0; b2 < 4; b2++) {
                const oy = 2 * i + a2 - 1;
                const ox = 2 * j + b2 - 1;
                if (oy < 0 || ox < 0 || oy >= 2 * h || ox >= 2 * w) continue;
                for (let o = 0; o < cout; o++)
                  for (let c = 0; c < cin; c++)
                    ref.set(ref.get(n, oy, ox, o) + X[n][i][j][c] * K[a2][b2][o][c], n, oy, ox, o);
              }
      expectClose(a, ref.toTensor(), { rtol: 1e-4, atol: 1e-4 }, 'same vs direct');
    });

    it('other transposed-conv paddings crop a valid transposed convolution', () => {
      const x = tfl.input({ shape: [5, 5, 2] });
      const y = torchConvTranspose2d(x, { filters: 3, kernelSize: 3, stride: 2, padding: 1, name: 'u' });
      expect(y.shape).toEqual([null, 9, 9, 3]); // (5−1)·2 − 2 + 3
    });
  });

  describe('model checks', () => {
    it('hourglass backbone: shapes, save → load identical, no leaks', async () => {
      const image = tfl.input({ shape: [32, 32, 3] });
      const { heatmaps, encodings } = hourglassBackbone(image, {
        numJoints: 3,
        numStacks: 2,
        numModules: 1,
        features: 4,
        depth: 2,
        stemChannels: [4, 4],
      });
      expect(heatmaps.map((t) => t.shape)).toEqual([
        [null, 8, 8, 3],
        [null, 8, 8, 3],
      ]);
      expect(encodings.map((t) => t.shape)).toEqual([
        [null, 8, 8, 4],
        [null, 8, 8, 4],
      ]);
      const model = tfl.model({ inputs: image, outputs: [...heatmaps, encodings[1]] });
      const input = tf.randomUniform([1, 32, 32, 3], 0, 1, 'float32', 3);
      await expectSaveLoadIdentical(model, [input]);
      if (backend === 'cpu') await expectNoLeakInPredictAndTrain(model, [input]);
      input.dispose();
    });
  });
});

describe('errors', () => {
  it('rejects bad block configurations and shapes with named errors', () => {
    const x = tfl.input({ shape: [8, 8, 4] });
    expect(() => preActResidual(x, { outChannels: 5, name: 'r' })).toThrow(
      'preActResidual: outChannels must be an even integer, but received 5.',
    );
    expect(() => hourglass(tfl.input({ shape: [6, 6, 4] }), { depth: 2, name: 'h' })).toThrow(
      'hourglass: input must be a height and width divisible by 2^depth = 4, but received [null, 6, 6, 4].',
    );
    expect(() => basic2dBlock(x, { outChannels: 4, kernelSize: 2, name: 'b' })).toThrow(
      'basic2dBlock: kernelSize must be an odd integer, but received 2.',
    );
    expect(() => torchConv2d(x, { filters: 0, kernelSize: 3, name: 'c' })).toThrow(
      'torchConv2d: filters must be an integer ≥ 1, but received 0.',
    );
    expect(() => nddrBlock([x], { name: 'n' })).toThrow(PhalanxShapeError);
    expect(() => res2dBlock(tfl.input({ shape: [4, 4] }), { outChannels: 2, name: 'r' })).toThrow(PhalanxShapeError);
  });

  it('names an input that is not a SymbolicTensor, options that are not an object or misspelt, too few tensors to merge', () => {
    const x = tfl.input({ shape: [8, 8, 4] });
    const cases: [() => unknown, string, typeof PhalanxConfigError | typeof PhalanxShapeError][] = [
      [
        () => channelsOf(null as never),
        'channelsOf: input must be a [B, H, W, C] SymbolicTensor (e.g. tfl.input({ shape })), but received null.',
        PhalanxShapeError,
      ],
      [
        () => resnetBackbone(null as never),
        'input must be a [B, H, W, C] SymbolicTensor (e.g. tfl.input({ shape })), but received null.',
        PhalanxShapeError,
      ],
      [
        () => torchConv2d(x, null as never),
        'torchConv2d: options must be an options object {filters, kernelSize, stride?, padding?, useBias?, name}, but received null.',
        PhalanxConfigError,
      ],
      [
        () => torchConvTranspose2d(x, null as never),
        'torchConvTranspose2d: options must be an options object',
        PhalanxConfigError,
      ],
      [
        () => torchConv2d(x, [] as never),
        'torchConv2d: options must be an options object {filters, kernelSize, stride?, padding?, useBias?, name}, but received [].',
        PhalanxConfigError,
      ],
      [
        () => torchConv2d(x, { filters: 4, kernelSize: 3, strides: 2, name: 'c' } as never),
        'torchConv2d: options.strides must be an option (one of filters, kernelSize, stride, padding, useBias, name), but received 2.',
        PhalanxConfigError,
      ],
      [
        () => torchConvTranspose2d(x, { filters: 4, kernelSize: 4, stride: 2, outputPadding: 1, name: 'u' } as never),
        'torchConvTranspose2d: options.outputPadding must be an option',
        PhalanxConfigError,
      ],
      [
        () => addAll([], 'sum'),
        "addAll: xs must be a list of at least 2 SymbolicTensors, but received '0 tensors'.",
        PhalanxShapeError,
      ],
      [
        () => concatChannels([x], 'cat'),
        "concatChannels: xs must be a list of at least 2 SymbolicTensors, but received '1 tensors'.",
        PhalanxShapeError,
      ],
    ];
    for (const [f, message, type] of cases) {
      expect(f, message).toThrow(type);
      expect(f).toThrow(message);
    }
  });

  it('strict import lists missing and unexpected keys; shapes are checked', () => {
    const x = tfl.input({ shape: [4, 4, 2] });
    const model = tfl.model({ inputs: x, outputs: basic2dBlock(x, { outChannels: 3, kernelSize: 1, name: 'b' }) });
    const good = {
      'b.block.0.weight': tf.ones([3, 2, 1, 1]),
      'b.block.0.bias': tf.zeros([3]),
      'b.block.1.weight': tf.ones([3]),
      'b.block.1.bias': tf.zeros([3]),
      'b.block.1.running_mean': tf.zeros([3]),
      'b.block.1.running_var': tf.ones([3]),
      'b.block.1.num_batches_tracked': tf.scalar(3, 'int32'),
    };
    expect(loadTorchStateDict(model, good).loaded).toHaveLength(6);
    const { ['b.block.1.running_var']: _dropped, ...partial } = good;
    expect(() => loadTorchStateDict(model, { ...partial, 'b.extra.weight': tf.ones([1]) })).toThrow(
      /loadTorchStateDict: tensors must be a state_dict matching the model exactly, but received 'missing keys: b\.block\.1\.running_var; unexpected keys: b\.extra\.weight'/,
    );
    const report = loadTorchStateDict(model, partial, { strict: false });
    expect(report.missing).toEqual(['b.block.1.running_var']);
    expect(() => loadTorchStateDict(model, { ...good, 'b.block.0.weight': tf.ones([2, 3, 1, 1]) })).toThrow(
      "loadTorchStateDict: tensor 'b.block.0.weight' must be of shape [3, 2, 1, 1], but received [2, 3, 1, 1].",
    );
    const withModule = Object.fromEntries(Object.entries(good).map(([k, v]) => [`module.${k}`, v]));
    expect(loadTorchStateDict(model, withModule).loaded).toHaveLength(6);
  });
});

describe('the multi-layer builders check everything before building a layer', () => {
  const image = (size: number, width = size) => tfl.input({ shape: [size, width, 3] });
  const small = { numJoints: 2, numStacks: 1, features: 4, stemChannels: [4, 4] as [number, number], depth: 2 };

  it('refuse options, sizes and inputs that failed part-way with named errors and no tensor left behind', () => {
    const x = tfl.input({ shape: [8, 8, 4] });
    const cases: [() => unknown, string, typeof PhalanxConfigError | typeof PhalanxShapeError][] = [
      [
        () => hourglassBackbone(image(64), { ...small, depth: 0 }),
        'hourglassBackbone: depth must be an integer in [1, 64], but received 0.',
        PhalanxConfigError,
      ],
      [
        () => hourglassBackbone(image(64), { ...small, depth: 5 }),
        'hourglassBackbone: image must be an image whose stem output (16 × 16) is divisible by 2^depth = 32, ' +
          'but received [null, 64, 64, 3].',
        PhalanxShapeError,
      ],
      [
        () => hourglassBackbone(image(48), { ...small, depth: 4 }),
        'hourglassBackbone: image must be an image whose stem output (12 × 12) is divisible by 2^depth = 16, ' +
          'but received [null, 48, 48, 3].',
        PhalanxShapeError,
      ],
      [
        () => hourglassBackbone(image(64), { ...small, features: 5 }),
        'hourglassBackbone: features must be an even integer, but received 5.',
        PhalanxConfigError,
      ],
      [
        () => hourglassBackbone(image(64), { ...small, stemChannels: [4, 5] }),
        'hourglassBackbone: stemChannels[1] must be an even integer, but received 5.',
        PhalanxConfigError,
      ],
      [
        () => hourglassBackbone(image(64), { ...small, numJoints: 1e9 }),
        'hourglassBackbone: numJoints must be an integer in [1, 4096], but received 1000000000.',
        PhalanxConfigError,
      ],
      [
        () => hourglassBackbone(image(64), { ...small, numStack: 2 } as never),
        'hourglassBackbone: options.numStack must be an option (one of numJoints, numStacks, numModules, features, ' +
          'depth, stemChannels, name), but received 2.',
        PhalanxConfigError,
      ],
      [
        () => hourglassBackbone(image(64), null as never),
        'hourglassBackbone: options must be an options object {numJoints, numStacks?, numModules?, features?, ' +
          'depth?, stemChannels?, name?}, but received null.',
        PhalanxConfigError,
      ],
      [
        () => stackedHourglass(x, { channels: 3, depth: 1, stacks: 1, outChannels: 2, name: 's' }),
        'stackedHourglass: channels must be an even integer, but received 3.',
        PhalanxConfigError,
      ],
      [
        () => stackedHourglass(x, { channels: 4, depth: 0, stacks: 1, outChannels: 2, name: 's' }),
        'stackedHourglass: depth must be an integer in [1, 64], but received 0.',
        PhalanxConfigError,
      ],
      [
        () => stackedHourglass(x, { channels: 4, depth: 4, stacks: 1, outChannels: 2, name: 's' }),
        'stackedHourglass: input must be [B, H, W, C] with H and W divisible by 2^4, but received [null, 8, 8, 4].',
        PhalanxShapeError,
      ],
      [
        () => stackedHourglass(x, { channels: 4, depth: 1, stack: 1, outChannels: 2, name: 's' } as never),
        'stackedHourglass: options.stack must be an option (one of channels, depth, stacks, outChannels, name), ' +
          'but received 1.',
        PhalanxConfigError,
      ],
      [
        () => refinementModule(x, { channels: 2, numResidual: 4, numPools: 4, name: 'r' }),
        'refinementModule: input must be [B, H, W, C] with H and W ≥ 2^numPools = 16, but received [null, 8, 8, 4].',
        PhalanxShapeError,
      ],
      [
        () => refinementModule(x, { channels: 2, numPool: 1, name: 'r' } as never),
        'refinementModule: options.numPool must be an option (one of channels, numResidual, numPools, ' +
          'useBatchNorm, name), but received 1.',
        PhalanxConfigError,
      ],
    ];
    for (const [f, message, errorClass] of cases) {
      const before = tf.memory().numTensors;
      let error: unknown;
      try {
        f();
      } catch (e) {
        error = e;
      }
      expect(error, message).toBeInstanceOf(errorClass);
      expect((error as Error).message).toBe(message);
      expect(tf.memory().numTensors, message).toBe(before);
    }
  });

  it('still build every input the layers accept: odd stem sizes, rectangles, pooling down to 1 pixel', () => {
    // 63 px: the 7×7/2 stem gives 32, the pooling 16, divisible by 2^2.
    expect(hourglassBackbone(image(63), small).heatmaps[0].shape).toEqual([null, 16, 16, 2]);
    expect(hourglassBackbone(image(64, 32), small).heatmaps[0].shape).toEqual([null, 16, 8, 2]);
    const x = tfl.input({ shape: [8, 8, 4] });
    expect(refinementModule(x, { channels: 2, numResidual: 3, numPools: 3, name: 'r' }).shape).toEqual([null, 1, 1, 2]);
    expect(
      refinementModule(tfl.input({ shape: [6, 6, 4] }), { channels: 2, numResidual: 2, numPools: 2, name: 'q' }).shape,
    ).toEqual([null, 1, 1, 2]);
  });
});

describe('every block builder names options that are not an object or not its own', () => {
  it('null options, a misspelt key, an unknown ResNet block and a bad linear width are named errors', () => {
    const x = tfl.input({ shape: [8, 8, 4] });
    const tokens = tfl.input({ shape: [5, 4] });
    const builders: [string, (options: never) => unknown, Record<string, unknown>, string][] = [
      ['preActResidual', (o) => preActResidual(x, o), { outChannels: 4, name: 'p' }, '{outChannels, name}'],
      ['hourglass', (o) => hourglass(x, o), { depth: 1, name: 'h' }, '{depth, numModules?, name}'],
      [
        'basic2dBlock',
        (o) => basic2dBlock(x, o),
        { outChannels: 4, kernelSize: 1, name: 'b' },
        '{outChannels, kernelSize, name}',
      ],
      ['res2dBlock', (o) => res2dBlock(x, o), { outChannels: 4, name: 'r' }, '{outChannels, name}'],
      ['downsampleConv2dR', (o) => downsampleConv2dR(x, o), { outChannels: 4, name: 'd' }, '{outChannels, name}'],
      ['upsample2dBlockR', (o) => upsample2dBlockR(x, o), { outChannels: 4, name: 'u' }, '{outChannels, name}'],
      ['nddrBlock', (o) => nddrBlock([x, x], o), { name: 'n' }, '{units?, selfWeight?, otherWeight?, name}'],
      [
        'resnetBlock',
        (o) => resnetBlock(x, o),
        { block: 'basic', planes: 4, name: 'l' },
        '{block, planes, stride?, name}',
      ],
      ['bottleneckResidual', (o) => bottleneckResidual(x, o), { outChannels: 4, name: 'q' }, '{outChannels, name}'],
      ['residualHourglass', (o) => residualHourglass(x, o), { depth: 1, name: 'g' }, '{depth, name}'],
      [
        'transformerBlock',
        (o) => transformerBlock(tokens, o),
        { heads: 2, name: 't' },
        '{heads, mlpRatio?, dropout?, dropoutSeed?, name}',
      ],
      [
        'crossAttentionBlock',
        (o) => crossAttentionBlock(tokens, tokens, o),
        { heads: 2, name: 'c' },
        '{heads, mlpRatio?, dropout?, dropoutSeed?, name}',
      ],
      ['torchLinear', (o) => torchLinear(tokens, o), { units: 3, name: 'f' }, '{units, useBias?, activation?, name}'],
    ];
    for (const [component, build, valid, shape] of builders) {
      const before = tf.memory().numTensors;
      expect(() => build(null as never), component).toThrow(
        `${component}: options must be an options object ${shape}, but received null.`,
      );
      expect(() => build({ ...valid, nmae: 'x' } as never), component).toThrow(
        `${component}: options.nmae must be an option (one of ${shape.replace(/[{}?]/g, '')}), but received 'x'.`,
      );
      expect(tf.memory().numTensors, component).toBe(before);
      expect(() => build({ ...valid, name: `${valid.name as string}.ok` } as never), component).not.toThrow();
    }
    const cases: [() => unknown, string][] = [
      [
        () => resnetBlock(x, { block: 'bottlenek' as never, planes: 4, name: 'l2' }),
        "resnetBlock: block must be one of 'basic', 'bottleneck', but received 'bottlenek'.",
      ],
      [
        () => torchLinear(tokens, { units: 0, name: 'f2' }),
        'torchLinear: units must be an integer ≥ 1, but received 0.',
      ],
      [
        () => torchLinear(tokens, { units: 2, activation: 'tanh' as never, name: 'f3' }),
        "torchLinear: activation must be one of 'linear', 'relu', 'gelu', but received 'tanh'.",
      ],
    ];
    for (const [f, message] of cases) {
      const before = tf.memory().numTensors;
      expect(f, message).toThrow(PhalanxConfigError);
      expect(f).toThrow(message);
      expect(tf.memory().numTensors, message).toBe(before);
    }
  });
});

describe('the PyTorch ops refuse an input they would shrink to nothing', () => {
  it('a kernel, pooling or crop larger than the input is a named shape error, not an empty or negative map', () => {
    const x = tfl.input({ shape: [8, 8, 4] });
    const cases: [() => unknown, string][] = [
      [
        () => torchConv2d(x, { filters: 2, kernelSize: 9, name: 'k9' }),
        'torchConv2d: input must be [B, H, W, C] with H + 2·padding and W + 2·padding ≥ kernelSize = 9, ' +
          'but received [null, 8, 8, 4].',
      ],
      [
        () => torchMaxPool(x, 16, 'pool'),
        'torchMaxPool: input must be [B, H, W, C] with H and W ≥ size = 16, but received [null, 8, 8, 4].',
      ],
      [
        () => torchConvTranspose2d(x, { filters: 2, kernelSize: 2, stride: 1, padding: 5, name: 't5' }),
        'torchConvTranspose2d: input must be [B, H, W, C] with (H − 1)·stride − 2·padding + kernelSize ≥ 1 ' +
          '(here -1), but received [null, 8, 8, 4].',
      ],
    ];
    for (const [f, message] of cases) {
      const before = tf.memory().numTensors;
      expect(f, message).toThrow(PhalanxShapeError);
      expect(f).toThrow(message);
      expect(tf.memory().numTensors, message).toBe(before);
    }
    // The bounds themselves still build: a kernel as large as the padded input, a 1-pixel pooling result.
    expect(torchConv2d(x, { filters: 2, kernelSize: 10, padding: 1, name: 'k10' }).shape).toEqual([null, 1, 1, 2]);
    expect(torchMaxPool(x, 8, 'pool8').shape).toEqual([null, 1, 1, 4]);
    expect(torchConvTranspose2d(x, { filters: 2, kernelSize: 2, stride: 1, padding: 4, name: 't4' }).shape).toEqual([
      null,
      1,
      1,
      2,
    ]);
  });
});

describe('the recursive hourglasses bound their depth', () => {
  it('a depth beyond MODEL_LIMITS.repeats on an input of unknown size is refused before building', () => {
    const x = tfl.input({ shape: [null, null, 4] });
    const cases: [() => unknown, string][] = [
      [
        () => hourglass(x, { depth: 1e9, numModules: 1, name: 'h' }),
        'hourglass: depth must be an integer in [1, 64], but received 1000000000.',
      ],
      [
        () => hourglass(x, { depth: 1, numModules: 1e9, name: 'h' }),
        'hourglass: numModules must be an integer in [1, 64], but received 1000000000.',
      ],
      [
        () => residualHourglass(tfl.input({ shape: [8, 8, 4] }), { depth: 1e9, name: 'r' }),
        'residualHourglass: depth must be an integer in [1, 64], but received 1000000000.',
      ],
    ];
    for (const [f, message] of cases) {
      const before = tf.memory().numTensors;
      expect(f, message).toThrow(PhalanxConfigError);
      expect(f).toThrow(message);
      expect(tf.memory().numTensors, message).toBe(before);
    }
  });
});
