/**
 * The whole step against an independent float64 reference: a linear model with a mean squared error,
 * whose gradient is known in closed form, trained by `fit` with two parameter groups (a warm-up into a
 * cosine, a constant rate), an empty group, per-group and global clipping, gradient accumulation over
 * micro-batches of unequal sizes (and a last step cut short by the end of the data), Adam and a moving
 * average of the weights — each recomputed here from the documented formulas.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@phalanx/testing';
import { cosineLr, warmupLr } from './schedules';
import { Trainer } from './trainer';

type Batch = { xs: tf.Tensor; ys: tf.Tensor };
const IN = 3;
const OUT = 2;

/** Deterministic values in [−1, 1) (a linear congruential generator), as float32. */
function values(count: number, seed: number): Float32Array {
  let state = seed >>> 0;
  return Float32Array.from({ length: count }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 31 - 1;
  });
}

/** Batch i: `1 + (i mod 4)` rows of inputs and targets. */
function rows(i: number): { n: number; x: Float32Array; y: Float32Array } {
  const n = 1 + (i % 4);
  return { n, x: values(n * IN, 17 + i), y: values(n * OUT, 9001 + i) };
}

/** W (IN×OUT, row-major) and b of the model before training. */
const W0 = values(IN * OUT, 5);
const B0 = Float32Array.from({ length: OUT }, (_, j) => 0.1 * (j + 1));

function linear(): tfl.LayersModel {
  const x = tfl.input({ shape: [IN], name: 'x' });
  const dense = tfl.layers.dense({ units: OUT, name: 'lin' });
  const model = tfl.model({ inputs: x, outputs: dense.apply(x) as tfl.SymbolicTensor });
  dense.setWeights([tf.tensor2d(W0, [IN, OUT]), tf.tensor1d(B0)]);
  return model;
}

/** Loss and gradients of `mean((xW + b − y)²)` over the rows of `batches` together, in float64. */
function lossAndGradients(batches: ReturnType<typeof rows>[], w: number[], b: number[]) {
  const gw = new Array<number>(IN * OUT).fill(0);
  const gb = new Array<number>(OUT).fill(0);
  const count = batches.reduce((s, r) => s + r.n, 0) * OUT;
  let loss = 0;
  for (const { n, x, y } of batches) {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < OUT; j++) {
        let r = b[j] - y[i * OUT + j];
        for (let k = 0; k < IN; k++) r += x[i * IN + k] * w[k * OUT + j];
        loss += (r * r) / count;
        gb[j] += (2 * r) / count;
        for (let k = 0; k < IN; k++) gw[k * OUT + j] += (2 * r * x[i * IN + k]) / count;
      }
    }
  }
  return { loss, gw, gb };
}

const norm = (...gs: number[][]) => Math.sqrt(gs.flat().reduce((s, g) => s + g * g, 0));
const scaled = (g: number[], maxNorm: number, n: number) => g.map((v) => (v * maxNorm) / Math.max(n, maxNorm));

/** Adam (Kingma & Ba) on one variable, step t ≥ 1, ε = 1e-7 (the cpu backend's). */
function adam(state: { m: number[]; v: number[]; value: number[] }, g: number[], lr: number, t: number): void {
  g.forEach((gi, i) => {
    state.m[i] = 0.9 * state.m[i] + 0.1 * gi;
    state.v[i] = 0.999 * state.v[i] + 0.001 * gi * gi;
    const mHat = state.m[i] / (1 - 0.9 ** t);
    const vHat = state.v[i] / (1 - 0.999 ** t);
    state.value[i] -= (lr * mHat) / (Math.sqrt(vHat) + 1e-7);
  });
}

/** The kernel group's rate: 3 warm-up steps up to a cosine from 0.05 over 8 steps (README formulas). */
const kernelLr = (s: number) => {
  const cosine = (t: number) => 0.025 * (1 + Math.cos((Math.PI * Math.min(t, 8)) / 8));
  return s < 3 ? cosine(3) * (s / 3) : cosine(s);
};

function close(actual: ArrayLike<number>, expected: number[], label: string): void {
  Array.from(actual).forEach((a, i) =>
    expect(Math.abs(a - expected[i]), `${label}[${i}]: ${a} vs ${expected[i]}`).toBeLessThanOrEqual(
      2e-5 * Math.max(1, Math.abs(expected[i])),
    ),
  );
}

beforeAll(async () => {
  await useBackend('cpu');
});

describe('a fit against a float64 reference of the documented formulas', () => {
  it('groups, schedules, clipping, accumulation of unequal micro-batches, Adam and the moving average', async () => {
    const BATCHES = 14; // 4 steps of 3 micro-batches, then a last step of the 2 left
    const model = linear();
    const rates: number[][] = [];
    const averages: number[][][] = [];
    const trainer = new Trainer<Batch>({
      model,
      loss: ([out], batch) => tf.mean(tf.square(tf.sub(out, batch.ys))) as tf.Scalar,
      progress: false,
      accumulateBatches: 3,
      clipNorm: 0.4,
      ema: { decay: 0.2 }, // d_t = min(0.2, (1 + t)/(10 + t)): the warm-up for 2 updates, then d
      parameterGroups: [
        { name: 'empty', match: /^nothing\//, lr: 1 },
        {
          name: 'kernel',
          match: /kernel$/,
          lr: warmupLr({ steps: 3, after: cosineLr({ initial: 0.05, steps: 8 }) }),
          clipNorm: 0.3,
        },
        { name: 'bias', lr: 0.02 },
      ],
      callbacks: [
        {
          onStepEnd: (r) => {
            rates.push([r.learningRates.kernel, r.learningRates.bias]);
            // (after the trainer's own callbacks: the average of this step)
            averages.push(Object.values(trainer.ema!.averagedWeights()).map((t) => Array.from(t.dataSync())));
          },
        },
      ],
    });
    const results: { loss: number; gradNorm: number }[] = [];
    const result = await trainer.fit({
      data: (function* () {
        for (let i = 0; i < BATCHES; i++) {
          const { n, x, y } = rows(i);
          yield { xs: tf.tensor2d(x, [n, IN]), ys: tf.tensor2d(y, [n, OUT]) };
        }
      })(), // a plain iterable: read once, so the data ends
      steps: 100,
    });
    expect(result.step).toBe(5);

    const w = { m: new Array<number>(IN * OUT).fill(0), v: new Array<number>(IN * OUT).fill(0), value: [...W0] };
    const b = { m: new Array<number>(OUT).fill(0), v: new Array<number>(OUT).fill(0), value: [...B0] };
    const ema = [[...W0], [...B0]];
    for (let s = 0; s < 5; s++) {
      const micro = Array.from({ length: Math.min(3, BATCHES - 3 * s) }, (_, k) => rows(3 * s + k));
      const { loss, gw, gb } = lossAndGradients(micro, w.value, b.value);
      const gwGroup = scaled(gw, 0.3, norm(gw));
      const gradNorm = norm(gwGroup, gb);
      results.push({ loss, gradNorm });
      adam(w, scaled(gwGroup, 0.4, gradNorm), kernelLr(s), s + 1);
      adam(b, scaled(gb, 0.4, gradNorm), 0.02, s + 1);
      const d = Math.min(0.2, (1 + s) / (10 + s));
      [w.value, b.value].forEach((v, k) => (ema[k] = ema[k].map((a, i) => d * a + (1 - d) * v[i])));
      close(averages[s][0], ema[0], `ema kernel, step ${s + 1}`);
      close(averages[s][1], ema[1], `ema bias, step ${s + 1}`);
      expect(rates[s][0]).toBeCloseTo(kernelLr(s), 7);
      expect(rates[s][1]).toBeCloseTo(0.02, 7);
    }
    close(
      result.losses,
      results.map((r) => r.loss),
      'loss',
    );
    const [kernel, bias] = model.getLayer('lin').getWeights();
    close(kernel.dataSync(), w.value, 'kernel');
    close(bias.dataSync(), b.value, 'bias');
    // The weights moved well beyond the tolerance.
    expect(Math.max(...w.value.map((v, i) => Math.abs(v - W0[i])))).toBeGreaterThan(0.05);
  });
});
