import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { expectClose, expectFailsWithoutEffect, expectNoTensorLeak, forEachBackend } from '@phalanx/testing';
import { describe, expect, it } from 'vitest';
import { PhalanxShapeError } from '@phalanx/errors';
import { readSafetensors, writeSafetensors } from './safetensors';
import { importTorchWeights, type TorchWeightMapping } from './torch-import';
import { torchStateDict } from './torch-state-dict';
import { torchConv2dKernel, torchConv2dTransposeKernel, torchDenseKernel, torchDepthwiseKernel } from './torch-layout';

/** Deterministic values in [−1, 1). */
function randomValues(count: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: count }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

/** A row-major array with a shape, indexed like PyTorch/NumPy. */
class Arr {
  readonly strides: number[];
  constructor(
    readonly shape: number[],
    readonly data: number[],
  ) {
    this.strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  }
  static random(shape: number[], seed: number): Arr {
    return new Arr(
      shape,
      randomValues(
        shape.reduce((a, b) => a * b, 1),
        seed,
      ),
    );
  }
  static zeros(shape: number[]): Arr {
    return new Arr(shape, new Array(shape.reduce((a, b) => a * b, 1)).fill(0));
  }
  at(...idx: number[]): number {
    return this.data[idx.reduce((o, v, i) => o + v * this.strides[i], 0)];
  }
  add(value: number, ...idx: number[]): void {
    this.data[idx.reduce((o, v, i) => o + v * this.strides[i], 0)] += value;
  }
  tensor(): tf.Tensor {
    return tf.tensor(this.data, this.shape, 'float32');
  }
}

const TOL = { rtol: 1e-4, atol: 1e-5 };

/** Reference PyTorch conv2d (cross-correlation, no padding, stride s) on an NHWC input, NHWC output. */
function refConv2d(x: Arr, w: Arr, b: Arr, stride: number): Arr {
  const [n, h, wd, c] = x.shape;
  const [o, , kh, kw] = w.shape;
  const oh = Math.floor((h - kh) / stride) + 1;
  const ow = Math.floor((wd - kw) / stride) + 1;
  const out = Arr.zeros([n, oh, ow, o]);
  for (let bi = 0; bi < n; bi++)
    for (let y = 0; y < oh; y++)
      for (let xx = 0; xx < ow; xx++)
        for (let oc = 0; oc < o; oc++) {
          let s = b.at(oc);
          for (let ci = 0; ci < c; ci++)
            for (let i = 0; i < kh; i++)
              for (let j = 0; j < kw; j++) s += x.at(bi, y * stride + i, xx * stride + j, ci) * w.at(oc, ci, i, j);
          out.add(s, bi, y, xx, oc);
        }
  return out;
}

/** Reference PyTorch ConvTranspose2d (padding 0, stride s), weight [in, out, kh, kw], NHWC. */
function refConvTranspose(x: Arr, w: Arr, b: Arr, stride: number): Arr {
  const [n, h, wd, c] = x.shape;
  const [, o, kh, kw] = w.shape;
  const out = Arr.zeros([n, (h - 1) * stride + kh, (wd - 1) * stride + kw, o]);
  for (let bi = 0; bi < n; bi++)
    for (let y = 0; y < out.shape[1]; y++)
      for (let xx = 0; xx < out.shape[2]; xx++) for (let oc = 0; oc < o; oc++) out.add(b.at(oc), bi, y, xx, oc);
  for (let bi = 0; bi < n; bi++)
    for (let y = 0; y < h; y++)
      for (let xx = 0; xx < wd; xx++)
        for (let ci = 0; ci < c; ci++)
          for (let oc = 0; oc < o; oc++)
            for (let i = 0; i < kh; i++)
              for (let j = 0; j < kw; j++)
                out.add(x.at(bi, y, xx, ci) * w.at(ci, oc, i, j), bi, y * stride + i, xx * stride + j, oc);
  return out;
}

/** Reference depthwise conv (groups = in, multiplier m), weight [in·m, 1, kh, kw], valid, stride 1. */
function refDepthwise(x: Arr, w: Arr, b: Arr): Arr {
  const [n, h, wd, c] = x.shape;
  const [om, , kh, kw] = w.shape;
  const m = om / c;
  const out = Arr.zeros([n, h - kh + 1, wd - kw + 1, om]);
  for (let bi = 0; bi < n; bi++)
    for (let y = 0; y < out.shape[1]; y++)
      for (let xx = 0; xx < out.shape[2]; xx++)
        for (let ci = 0; ci < c; ci++)
          for (let j = 0; j < m; j++) {
            const oc = ci * m + j;
            let s = b.at(oc);
            for (let i = 0; i < kh; i++)
              for (let k = 0; k < kw; k++) s += x.at(bi, y + i, xx + k, ci) * w.at(oc, 0, i, k);
            out.add(s, bi, y, xx, oc);
          }
  return out;
}

function refDense(x: Arr, w: Arr, b: Arr): Arr {
  const [n, i] = x.shape;
  const o = w.shape[0];
  const out = Arr.zeros([n, o]);
  for (let r = 0; r < n; r++)
    for (let oc = 0; oc < o; oc++) {
      let s = b.at(oc);
      for (let k = 0; k < i; k++) s += x.at(r, k) * w.at(oc, k);
      out.add(s, r, oc);
    }
  return out;
}

/** Normalisation over the last axis (layer norm) or with given statistics per channel (batch norm). */
function refNorm(x: Arr, gamma: Arr, beta: Arr, eps: number, stats?: { mean: Arr; variance: Arr }): Arr {
  const c = x.shape[x.shape.length - 1];
  const rows = x.data.length / c;
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    const row = x.data.slice(r * c, (r + 1) * c);
    const mu = row.reduce((a, v) => a + v, 0) / c;
    const va = row.reduce((a, v) => a + (v - mu) ** 2, 0) / c;
    row.forEach((v, k) => {
      const m = stats ? stats.mean.at(k) : mu;
      const s2 = stats ? stats.variance.at(k) : va;
      out.push((gamma.at(k) * (v - m)) / Math.sqrt(s2 + eps) + beta.at(k));
    });
  }
  return new Arr(x.shape, out);
}

interface Fixture {
  layers: tfl.layers.Layer[];
  inputs: Record<string, Arr>;
  torch: Record<string, Arr>;
}

/** Tiny tfjs layers, built, and PyTorch-layout parameters for them (state_dict style keys). */
function fixture(): Fixture {
  const inputs = {
    conv: Arr.random([1, 5, 6, 2], 1),
    deconv: Arr.random([1, 2, 3, 2], 2),
    fc: Arr.random([2, 4], 3),
    bn: Arr.random([2, 3, 3], 4),
    ln: Arr.random([2, 5], 5),
    dw: Arr.random([1, 4, 5, 2], 6),
  };
  const torch: Record<string, Arr> = {
    'features.0.weight': Arr.random([3, 2, 3, 2], 10),
    'features.0.bias': Arr.random([3], 11),
    'up.weight': Arr.random([2, 3, 3, 3], 12),
    'up.bias': Arr.random([3], 13),
    'head.fc.weight': Arr.random([3, 4], 14),
    'head.fc.bias': Arr.random([3], 15),
    'bn1.weight': Arr.random([3], 16),
    'bn1.bias': Arr.random([3], 17),
    'bn1.running_mean': Arr.random([3], 18),
    'bn1.running_var': new Arr([3], [0.5, 1.5, 2.25]),
    'norm.weight': Arr.random([5], 19),
    'norm.bias': Arr.random([5], 20),
    'dw.weight': Arr.random([4, 1, 3, 2], 21),
    'dw.bias': Arr.random([4], 22),
  };
  const layers = [
    tfl.layers.conv2d({ name: 'conv', filters: 3, kernelSize: [3, 2], strides: 2, padding: 'valid' }),
    tfl.layers.conv2dTranspose({ name: 'deconv', filters: 3, kernelSize: 3, strides: 2, padding: 'valid' }),
    tfl.layers.dense({ name: 'fc', units: 3 }),
    tfl.layers.batchNormalization({ name: 'bn', epsilon: 1e-5, momentum: 0.9 }),
    tfl.layers.layerNormalization({ name: 'ln', epsilon: 1e-5 }),
    tfl.layers.depthwiseConv2d({ name: 'dw', kernelSize: [3, 2], depthMultiplier: 2, padding: 'valid' }),
  ];
  const keys = ['conv', 'deconv', 'fc', 'bn', 'ln', 'dw'] as const;
  layers.forEach((layer, i) => tf.dispose(layer.apply(inputs[keys[i]].tensor()) as tf.Tensor));
  return { layers, inputs, torch };
}

const MAPPING = [
  { torch: 'features.0', layer: 'conv', kind: 'conv2d' },
  { torch: 'up', layer: 'deconv', kind: 'conv2dTranspose' },
  { torch: 'head.fc', layer: 'fc', kind: 'dense' },
  { torch: 'bn1', layer: 'bn', kind: 'batchNorm' },
  { torch: 'norm', layer: 'ln', kind: 'layerNorm' },
  { torch: 'dw', layer: 'dw', kind: 'depthwiseConv2d' },
] as const;

function torchTensors(torch: Record<string, Arr>): Record<string, tf.Tensor> {
  return Object.fromEntries(Object.entries(torch).map(([k, a]) => [k, a.tensor()]));
}

forEachBackend(() => {
  describe('layout converters', () => {
    it('refuse a weight of the wrong rank, or not a tensor, by name (not tfjs transpose errors)', () => {
      const flat = tf.zeros([2, 2]);
      const cube = tf.zeros([2, 2, 2]);
      const cases: [() => unknown, string][] = [
        [
          () => torchConv2dKernel(flat),
          'torchConv2dKernel: weight must be a PyTorch weight [O, I, kh, kw], but received [2, 2].',
        ],
        [
          () => torchConv2dTransposeKernel(cube),
          'torchConv2dTransposeKernel: weight must be a PyTorch weight [I, O, kh, kw], but received [2, 2, 2].',
        ],
        [
          () => torchDenseKernel(cube),
          'torchDenseKernel: weight must be a PyTorch weight [O, I], but received [2, 2, 2].',
        ],
        [
          () => torchDepthwiseKernel(null as never, 3),
          'torchDepthwiseKernel: weight must be a PyTorch weight [I·m, 1, kh, kw], but received null.',
        ],
      ];
      const before = tf.memory().numTensors;
      for (const [f, message] of cases) {
        expect(f, message).toThrow(PhalanxShapeError);
        expect(f).toThrow(message);
      }
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([flat, cube]);
    });

    it('move each PyTorch element to its tfjs position', () => {
      const w = Arr.random([3, 2, 3, 2], 1);
      const k = torchConv2dKernel(w.tensor());
      expect(k.shape).toEqual([3, 2, 2, 3]);
      expect(k.arraySync()[2][1][0][1]).toBeCloseTo(w.at(1, 0, 2, 1), 6);
      const t = torchConv2dTransposeKernel(Arr.random([4, 3, 2, 2], 2).tensor());
      expect(t.shape).toEqual([2, 2, 3, 4]);
      const d = torchDenseKernel(new Arr([2, 3], [1, 2, 3, 4, 5, 6]).tensor());
      expect(d.arraySync()).toEqual([
        [1, 4],
        [2, 5],
        [3, 6],
      ]);
      const dw = Arr.random([6, 1, 2, 2], 3);
      const dk = torchDepthwiseKernel(dw.tensor(), 3);
      expect(dk.shape).toEqual([2, 2, 3, 2]);
      expect(dk.arraySync()[1][0][2][1]).toBeCloseTo(dw.at(2 * 2 + 1, 0, 1, 0), 6);
      expect(() => torchDepthwiseKernel(tf.zeros([5, 1, 3, 3]), 2)).toThrow(
        'torchDepthwiseKernel: weight must be of shape [2·m, 1, kh, kw] (a depthwise PyTorch conv with groups = 2), but received [5, 1, 3, 3].',
      );
      tf.dispose([k, t, d, dk]);
    });
  });

  describe('importTorchWeights: converted values', () => {
    it('converted layers reproduce the PyTorch computation (hand-computed references)', () => {
      const { layers, inputs, torch } = fixture();
      const tensors = torchTensors({ ...torch, 'bn1.num_batches_tracked': new Arr([], [7]) });
      const report = importTorchWeights(layers, tensors, [...MAPPING]);
      expect(report.missing).toEqual([]);
      expect(report.unexpected).toEqual([]);
      expect(report.loaded).toHaveLength(14);
      const run = (i: number, x: Arr) => layers[i].apply(x.tensor(), { training: false }) as tf.Tensor;
      expectClose(
        run(0, inputs.conv),
        refConv2d(inputs.conv, torch['features.0.weight'], torch['features.0.bias'], 2).data,
        TOL,
        'conv2d',
      );
      expectClose(
        run(1, inputs.deconv),
        refConvTranspose(inputs.deconv, torch['up.weight'], torch['up.bias'], 2).data,
        TOL,
        'conv2dTranspose',
      );
      expect(run(1, inputs.deconv).shape).toEqual([1, 5, 7, 3]);
      expectClose(
        run(2, inputs.fc),
        refDense(inputs.fc, torch['head.fc.weight'], torch['head.fc.bias']).data,
        TOL,
        'dense',
      );
      const bnStats = { mean: torch['bn1.running_mean'], variance: torch['bn1.running_var'] };
      expectClose(
        run(3, inputs.bn),
        refNorm(inputs.bn, torch['bn1.weight'], torch['bn1.bias'], 1e-5, bnStats).data,
        TOL,
        'batchNorm',
      );
      expectClose(
        run(4, inputs.ln),
        refNorm(inputs.ln, torch['norm.weight'], torch['norm.bias'], 1e-5).data,
        TOL,
        'layerNorm',
      );
      expectClose(
        run(5, inputs.dw),
        refDepthwise(inputs.dw, torch['dw.weight'], torch['dw.bias']).data,
        TOL,
        'depthwiseConv2d',
      );
    });

    it('finds layers inside nested models, goes through safetensors bytes, and supports raw mappings', () => {
      const input = tfl.input({ shape: [4] });
      const innerIn = tfl.input({ shape: [4] });
      const inner = tfl.model({
        inputs: innerIn,
        outputs: tfl.layers.dense({ name: 'inner_fc', units: 2 }).apply(innerIn) as tfl.SymbolicTensor,
        name: 'block',
      });
      const raw = tfl.layers.dense({ name: 'raw_fc', units: 3 });
      const model = tfl.model({ inputs: input, outputs: raw.apply(inner.apply(input)) as tfl.SymbolicTensor });
      const w1 = Arr.random([2, 4], 1);
      const b1 = Arr.random([2], 2);
      const wRaw = Arr.random([2, 3], 3); // already in tfjs layout
      const bRaw = Arr.random([3], 4);
      const bytes = writeSafetensors(
        torchTensors({ 'block.fc.weight': w1, 'block.fc.bias': b1, 'out.w': wRaw, 'out.b': bRaw }),
      );
      const tensors = readSafetensors(bytes);
      importTorchWeights(model, tensors, [
        { torch: 'block.fc', layer: 'inner_fc', kind: 'dense' },
        { torch: 'out', layer: 'raw_fc', kind: 'raw', params: ['w', 'b'] },
      ]);
      const x = Arr.random([3, 4], 9);
      const hidden = refDense(x, w1, b1);
      const expected = refDense(
        hidden,
        new Arr([3, 2], (tf.transpose(wRaw.tensor()).arraySync() as number[][]).flat()),
        bRaw,
      );
      expectClose(model.predict(x.tensor()) as tf.Tensor, expected.data, TOL, 'nested + raw');
    });
  });
});

forEachBackend(() => {
  describe('importTorchWeights: reports, failures and leaks', () => {
    it('reports missing, unexpected and mismatched keys by name; strict throws and changes nothing', () => {
      const { layers, torch } = fixture();
      const tensors = torchTensors(torch);
      delete tensors['features.0.bias'];
      tensors['head.fc.weight'] = tf.zeros([4, 3]);
      tensors['extra.weight'] = tf.zeros([1]);
      const before = layers[2].getWeights()[0].dataSync().slice();
      const expectedMessage =
        'importTorchWeights: tensors must be a state_dict that matches the mapping exactly (strict), but received ' +
        '{"missing":["features.0.bias"],"unexpected":["extra.weight"],' +
        '"mismatched":["head.fc.weight → fc/kernel: expected [3,4], got [4,3]"],' +
        '"problems":["no tfjs layer named \'nope\' (for \'ghost\')"]}.';
      const mapping = [...MAPPING, { torch: 'ghost', layer: 'nope', kind: 'dense' as const }];
      let error: Error | undefined;
      try {
        importTorchWeights(layers, tensors, mapping);
      } catch (e) {
        error = e as Error;
      }
      expect(error?.name).toBe('PhalanxConfigError');
      expect(error?.message.replace(/fc_\w+\/kernel|fc\/kernel/, 'fc/kernel')).toBe(expectedMessage);
      expect(Array.from(layers[2].getWeights()[0].dataSync())).toEqual(Array.from(before));
      expect(Array.from(layers[4].getWeights()[0].dataSync())).toEqual([1, 1, 1, 1, 1]); // layer norm untouched

      const report = importTorchWeights(layers, tensors, mapping, { strict: false });
      expect(report.missing).toEqual(['features.0.bias']);
      expect(report.unexpected).toEqual(['extra.weight']);
      expect(report.mismatched.map((m) => [m.torch, m.expected, m.received])).toEqual([
        ['head.fc.weight', [3, 4], [4, 3]], // PyTorch layout: nn.Linear(4, 3).weight is [3, 4]
      ]);
      expect(report.problems).toEqual(["no tfjs layer named 'nope' (for 'ghost')"]);
      expect(report.loaded).toContain('norm.weight');
      expectClose(layers[4].getWeights()[0], torch['norm.weight'].data, TOL, 'layer norm loaded in non-strict mode');
      expect(Array.from(layers[2].getWeights()[0].dataSync())).toEqual(Array.from(before));
    });

    it('reports mapping problems: unbuilt layers, a kind that does not fit, raw length', () => {
      const unbuilt = tfl.layers.dense({ name: 'later', units: 2 });
      const bn = tfl.layers.batchNormalization({ name: 'bn_only' });
      tf.dispose(bn.apply(tf.zeros([1, 2])) as tf.Tensor);
      const report = importTorchWeights(
        [unbuilt, bn],
        { 'a.weight': tf.zeros([2]) },
        [
          { torch: 'a', layer: 'later', kind: 'dense' },
          { torch: 'a', layer: 'bn_only', kind: 'dense' },
          { torch: 'b', layer: 'bn_only', kind: 'raw', params: ['x'] },
        ],
        { strict: false },
      );
      expect(report.problems[0]).toBe("layer 'later' has no weights (not built yet, or weightless)");
      expect(report.problems[1]).toMatch(
        /^tfjs weight 'bn_only.*\/gamma' has no PyTorch counterpart for kind 'dense'$/,
      );
      expect(report.problems).toContain("layer 'bn_only' is mapped more than once");
      expect(report.problems.at(-1)).toBe(
        "raw mapping of 'bn_only' lists 1 params for 4 weights (gamma, beta, moving_mean, moving_variance)",
      );
      expect(() => importTorchWeights([], {}, [], { strict: 'yes' as unknown as boolean })).toThrow(
        "importTorchWeights: strict must be a boolean, but received 'yes'.",
      );
    });

    it('does not leak tensors', async () => {
      const { layers, torch } = fixture();
      const tensors = torchTensors(torch);
      await expectNoTensorLeak(() => importTorchWeights(layers, tensors, [...MAPPING]), 'importTorchWeights');
    });

    it('a failed import, strict or not, writes no weight and leaves no tensor behind', async () => {
      const model = tfl.sequential({
        layers: [
          tfl.layers.conv2d({ filters: 3, kernelSize: 3, inputShape: [6, 6, 2], name: 'conv' }),
          tfl.layers.batchNormalization({ name: 'bn' }),
          tfl.layers.flatten(),
          tfl.layers.dense({ units: 4, name: 'fc' }),
        ],
      });
      const mapping: TorchWeightMapping[] = [
        { torch: 'features.0', layer: 'conv', kind: 'conv2d' },
        { torch: 'features.1', layer: 'bn', kind: 'batchNorm' },
        { torch: 'head', layer: 'fc', kind: 'dense' },
      ];
      // Valid tensors in PyTorch layout (the model's own weights, exported), moved to the mapped names
      // and changed, so that an import that wrote anything would show.
      const own = torchStateDict(model);
      const good: Record<string, tf.Tensor> = {};
      for (const [key, t] of Object.entries(own)) {
        const torchKey = key
          .replace(/^conv\./, 'features.0.')
          .replace(/^bn\./, 'features.1.')
          .replace(/^fc\./, 'head.');
        good[torchKey] = tf.tidy(() => tf.add(t, 0.5));
      }
      tf.dispose(Object.values(own));
      const wrongShape = tf.zeros([4, 3]);
      const nan = tf.fill([3], NaN);
      const negativeVariance = tf.fill([3], -1);
      const boolean = tf.tensor1d([true, false, true], 'bool');
      const cases: [Record<string, tf.Tensor>, boolean, RegExp][] = [
        [
          { ...good, 'head.weight': wrongShape },
          true,
          /"mismatched":\["head\.weight → fc.*\/kernel: expected \[4,48\]/,
        ],
        [{ ...good, 'features.1.weight': nan }, true, /tensor 'features\.1\.weight' must be finite/],
        [{ ...good, 'features.1.weight': nan }, false, /tensor 'features\.1\.weight' must be finite/],
        [{ ...good, 'features.1.running_var': negativeVariance }, false, /must be a variance/],
        [
          { ...good, 'features.1.bias': boolean },
          false,
          /tensor 'features\.1\.bias' must be a float32 or int32 tensor/,
        ],
      ];
      for (const [tensors, strict, error] of cases) {
        await expectFailsWithoutEffect(model, () => importTorchWeights(model, tensors, mapping, { strict }), error);
      }
      // The same tensors without the fault load (the cases failed for the fault alone).
      importTorchWeights(model, good, mapping);
      expectClose(model.getLayer('fc').getWeights()[1], Array.from(good['head.bias'].dataSync()), TOL, 'loaded');
      tf.dispose([...Object.values(good), wrongShape, nan, negativeVariance, boolean]);
      model.dispose();
    });
  });
});
