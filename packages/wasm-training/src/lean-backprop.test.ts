import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { expectClose, expectNoTensorLeak, forEachBackend } from '@phalanx/testing';
import fc from 'fast-check';
import { afterEach, expect, it } from 'vitest';
import {
  disableLeanBackprop,
  enableLeanBackprop,
  isInputGradientUnneeded,
  isLeanBackpropEnabled,
} from './lean-backprop';
import './register';

afterEach(() => disableLeanBackprop());

/** A small pre-activation conv net with batch norm in training mode, residual add, pooling and dense head. */
function smallModel(): tfl.LayersModel {
  const input = tfl.input({ shape: [8, 8, 3] });
  const c1 = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', seed: 1 } as never).apply(input);
  const b1 = tfl.layers.batchNormalization({ axis: -1 }).apply(c1);
  const r1 = tfl.layers.reLU().apply(b1);
  const c2 = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }).apply(r1);
  const sum = tfl.layers.add().apply([c2 as tfl.SymbolicTensor, c1 as tfl.SymbolicTensor]);
  const pooled = tfl.layers.maxPooling2d({ poolSize: 2 }).apply(sum);
  const flat = tfl.layers.flatten().apply(pooled);
  const out = tfl.layers.dense({ units: 3, activation: 'tanh' }).apply(flat) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out });
}

async function grads(model: tfl.LayersModel, x: tf.Tensor, y: tf.Tensor) {
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { value, grads: g } = tf.variableGrads(
    () => tf.mean(tf.square(tf.sub(model.apply(x, { training: true }) as tf.Tensor, y))) as tf.Scalar,
    vars,
  );
  const out = await Promise.all(vars.map((v) => g[v.name].data()));
  const loss = (await value.data())[0];
  tf.dispose([value, ...Object.values(g)]);
  return { loss, out };
}

/**
 * An identity whose gradient (the last one the engine runs when it is applied to the differentiated
 * tensor first) records the backend's live buffers, read back with `buffersAtEnd()`.
 */
function bufferProbe(): { probe: (x: tf.Tensor) => tf.Tensor; buffersAtEnd: () => number } {
  let count = 0;
  const probe = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.clone(args[0] as tf.Tensor),
    gradFunc: (d: tf.Tensor | tf.Tensor[]) => {
      count = tf.backend().numDataIds();
      return [tf.clone(d as tf.Tensor)];
    },
  }));
  return { probe: (x) => probe(x) as tf.Tensor, buffersAtEnd: () => count };
}

forEachBackend((backend) => {
  it(`gives the same gradients as the stock backward pass (training-mode model) (${backend})`, async () => {
    const model = smallModel();
    const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 3);
    const y = tf.randomNormal([2, 3], 0, 1, 'float32', 4);
    const stock = await grads(model, x, y);
    enableLeanBackprop();
    expect(isLeanBackpropEnabled()).toBe(true);
    const lean = await grads(model, x, y);
    expect(lean.loss).toBe(stock.loss);
    lean.out.forEach((g, i) => expectClose(g, stock.out[i], { rtol: 0, atol: 0 }, `grad ${i}`));
    await expectNoTensorLeak(() => grads(model, x, y));
    tf.dispose([x, y]);
  });

  it(`frees the tape as it goes: far fewer live buffers at the end of the backward pass (${backend})`, async () => {
    const x = tf.randomNormal([64, 64]);
    const { probe, buffersAtEnd } = bufferProbe();
    const chain = (a: tf.Tensor) => {
      let h = probe(a);
      for (let i = 0; i < 30; i++) h = tf.tanh(tf.mul(h, 1.01));
      return tf.sum(h);
    };
    const base = tf.backend().numDataIds();
    tf.dispose(tf.grad(chain)(x));
    const stock = buffersAtEnd() - base;
    enableLeanBackprop();
    tf.dispose(tf.grad(chain)(x));
    const lean = buffersAtEnd() - base;
    expect(stock).toBeGreaterThan(60);
    expect(lean).toBeLessThan(10);
    expect(tf.backend().numDataIds()).toBe(base);
    x.dispose();
  });

  it(`prunes what is no function of the differentiated tensors before the backward pass, freeing what it saved (${backend})`, async () => {
    const x = tf.randomNormal([64, 64], 0, 1, 'float32', 5);
    const constant = tf.randomNormal([64, 64], 0, 1, 'float32', 6);
    const { probe, buffersAtEnd } = bufferProbe();
    // A branch of 60 taped ops on a constant (each saves tensors for a gradient that never runs) that
    // still reaches the loss, as the moving averages of batch norms reach the layer's state.
    const f = (a: tf.Tensor) => {
      let c = constant;
      for (let i = 0; i < 30; i++) c = tf.tanh(tf.mul(c, 1.01));
      return tf.add(tf.sum(tf.square(probe(a))), tf.sum(c));
    };
    const base = tf.backend().numDataIds();
    const stock = tf.grad(f)(x);
    const stockBuffers = buffersAtEnd() - base;
    enableLeanBackprop();
    const lean = tf.grad(f)(x);
    const leanBuffers = buffersAtEnd() - base;
    expectClose(await lean.data(), await stock.data(), { rtol: 0, atol: 0 }, 'gradient');
    expect(stockBuffers).toBeGreaterThan(60);
    expect(leanBuffers).toBeLessThan(10);
    tf.dispose([stock, lean]);
    expect(tf.backend().numDataIds()).toBe(base);
    await expectNoTensorLeak(() => tf.dispose(tf.grad(f)(x)));
    tf.dispose([x, constant]);
  });

  it(`keeps tensors for gradients without an Identity kernel each, under one tape only (${backend})`, async () => {
    const x = tf.randomNormal([16, 16], 0, 1, 'float32', 7);
    const f = (a: tf.Tensor) => tf.sum(tf.tanh(tf.mul(tf.sigmoid(a), a))); // each op saves tensors
    const identities = async (run: () => void) =>
      (await tf.profile(run)).kernels.filter((k) => k.name === 'Identity').length;
    const stock = tf.grad(f)(x);
    const stockCount = await identities(() => tf.dispose(tf.grad(f)(x)));
    enableLeanBackprop();
    const lean = tf.grad(f)(x);
    expect(await identities(() => tf.dispose(tf.grad(f)(x)))).toBe(0);
    expect(stockCount).toBeGreaterThanOrEqual(4);
    expectClose(await lean.data(), await stock.data(), { rtol: 0, atol: 0 }, 'gradient');
    // Nested tapes keep the engine's clone: the second derivative needs it.
    const second = tf.grad((a: tf.Tensor) => tf.grad((b: tf.Tensor) => tf.sum(tf.mul(tf.sigmoid(b), b)))(a))(x);
    disableLeanBackprop();
    const secondStock = tf.grad((a: tf.Tensor) => tf.grad((b: tf.Tensor) => tf.sum(tf.mul(tf.sigmoid(b), b)))(a))(x);
    expectClose(await second.data(), await secondStock.data(), { rtol: 0, atol: 0 }, 'second derivative');
    enableLeanBackprop();
    await expectNoTensorLeak(() => tf.dispose(tf.grad(f)(x)));
    tf.dispose([x, stock, lean, second, secondStock]);
  });

  it(`leaves a caller's dy alone, handles an input used twice, custom gradients returning dy and higher-order gradients (${backend})`, async () => {
    enableLeanBackprop();
    const x = tf.tensor([0.5, -1.5, 2]);
    const dy = tf.tensor([1, 2, 3]);
    const g1 = tf.grad((a: tf.Tensor) => tf.mul(tf.add(a, a), tf.exp(a)))(x, dy);
    expect(dy.isDisposed).toBe(false);
    const ref = tf.mul(dy, tf.mul(tf.exp(x), tf.add(tf.mul(x, 2), 2)));
    expectClose(await g1.data(), await ref.data(), { rtol: 1e-6, atol: 1e-6 }, 'd/dx 2x·eˣ');
    const passThrough = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
      value: tf.mul(args[0] as tf.Tensor, 3),
      gradFunc: (d: tf.Tensor | tf.Tensor[]) => [d as tf.Tensor],
    }));
    const g2 = tf.grad((a: tf.Tensor) => tf.sum(tf.square(passThrough(a) as tf.Tensor)))(x);
    expectClose(await g2.data(), [3, -9, 12], { rtol: 1e-6, atol: 1e-6 }, 'custom gradient passing dy');
    const g3 = tf.grad((a: tf.Tensor) => tf.grad((b: tf.Tensor) => tf.sum(tf.pow(b, 3)))(a))(x);
    expectClose(await g3.data(), [3, -9, 12], { rtol: 1e-6, atol: 1e-6 }, 'second derivative of x³');
    tf.dispose([x, dy, g1, ref, g2, g3]);
  });
});

forEachBackend(
  (backend) => {
    it(`skips the input gradient of a first convolution, and only when nothing differentiates its input (${backend})`, async () => {
      // A strided 7×7 stem on the image, then a second convolution: the stem's ∂x is read by nobody.
      const input = tfl.input({ shape: [16, 16, 3] });
      const stem = tfl.layers.conv2d({ filters: 8, kernelSize: 7, strides: 2, padding: 'same' }).apply(input);
      const next = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }).apply(stem);
      const out = tfl.layers.globalAveragePooling2d({}).apply(next) as tfl.SymbolicTensor;
      const model = tfl.model({ inputs: input, outputs: out });
      const x = tf.randomNormal([2, 16, 16, 3], 0, 1, 'float32', 5);
      const y = tf.randomNormal([2, 4], 0, 1, 'float32', 6);
      // Whether each Conv2DBackpropInput call may skip its work, in call order (a spy on the kernel).
      const config = tf.getKernel('Conv2DBackpropInput', 'wasm') as tf.KernelConfig;
      const kernelFunc = config.kernelFunc;
      const skips = async (f: () => Promise<unknown>) => {
        const seen: boolean[] = [];
        (config as { kernelFunc: tf.KernelFunc }).kernelFunc = (args) => {
          seen.push(isInputGradientUnneeded());
          return kernelFunc(args);
        };
        try {
          await f();
        } finally {
          (config as { kernelFunc: tf.KernelFunc }).kernelFunc = kernelFunc;
        }
        return seen;
      };
      const loss = (image: tf.Tensor) =>
        tf.mean(tf.square(tf.sub(model.apply(image, { training: true }) as tf.Tensor, y))) as tf.Scalar;
      const imageGrad = () => tf.grad(loss)(x);

      const stock = await grads(model, x, y);
      const stockImage = imageGrad();
      expect(await skips(() => grads(model, x, y))).toEqual([false, false]);
      enableLeanBackprop();
      const lean = await grads(model, x, y);
      lean.out.forEach((g, i) => expectClose(g, stock.out[i], { rtol: 0, atol: 0 }, `grad ${i}`));
      expect(await skips(() => grads(model, x, y))).toEqual([false, true]); // the stem's comes last
      // Differentiating the image: its gradient is computed as before.
      const leanImage = imageGrad();
      expect(Math.max(...Array.from(await leanImage.data(), Math.abs))).toBeGreaterThan(0);
      expectClose(await leanImage.data(), await stockImage.data(), { rtol: 0, atol: 0 }, 'd loss / d image');
      expect(await skips(async () => imageGrad().dispose())).toEqual([false, false]);
      await expectNoTensorLeak(() => grads(model, x, y));
      tf.dispose([x, y, stockImage, leanImage]);
    });
  },
  ['wasm'],
);

/** A float32 tensor, axes to reduce (possibly none or negative), keepDims, and Sum or Mean. */
const reductionCase = fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 }).chain((shape) =>
  fc.record({
    shape: fc.constant(shape),
    axes: fc.subarray([...shape.keys()]).map((axes) => axes.map((a, i) => (i % 2 === 1 ? a - shape.length : a))),
    keepDims: fc.boolean(),
    mean: fc.boolean(),
    seed: fc.integer({ min: 0, max: 1000 }),
  }),
);

/** ∂/∂x of Σ(w ⊙ reduce(x)²), w fixed: a dy that differs per output element. */
async function reductionGrad(c: { shape: number[]; axes: number[]; keepDims: boolean; mean: boolean; seed: number }) {
  return tf.tidy(() => {
    const x = tf.randomNormal(c.shape, 0, 1, 'float32', c.seed);
    const axes = c.axes.length === 0 ? undefined : c.axes;
    const reduce = (t: tf.Tensor) => (c.mean ? tf.mean(t, axes, c.keepDims) : tf.sum(t, axes, c.keepDims));
    const w = tf.randomNormal(reduce(x).shape, 0, 1, 'float32', c.seed + 1);
    return tf.grad((t: tf.Tensor) => tf.sum(tf.mul(w, tf.square(reduce(t)))))(x);
  });
}

forEachBackend((backend) => {
  it(`gives Sum and Mean the stock gradients bit for bit, with no ones made in JavaScript (${backend})`, async () => {
    await fc.assert(
      fc.asyncProperty(reductionCase, async (c) => {
        disableLeanBackprop();
        const stockGrad = await reductionGrad(c);
        const stock = await stockGrad.data();
        enableLeanBackprop();
        const leanGrad = await reductionGrad(c);
        expect(leanGrad.shape).toEqual(stockGrad.shape);
        expect(Array.from(await leanGrad.data())).toEqual(Array.from(stock));
        tf.dispose([stockGrad, leanGrad]);
      }),
      { numRuns: 40, seed: 13 },
    );
    // The lean gradient makes its ones with the Fill kernel (tf.ones runs no kernel).
    const x = tf.ones([3, 4]);
    const kernels = (await tf.profile(() => tf.grad((t: tf.Tensor) => tf.sum(t))(x))).kernelNames;
    expect(kernels).toContain('Fill');
    disableLeanBackprop();
    const stockKernels = (await tf.profile(() => tf.grad((t: tf.Tensor) => tf.sum(t))(x))).kernelNames;
    expect(stockKernels).not.toContain('Fill');
    x.dispose();
  });
});

forEachBackend((backend) => {
  it(`frees every saved tensor when the forward function or a gradient throws (${backend})`, () => {
    // The engine frees the tensors it saved for gradients only when the backward pass completes; a
    // throw left them kept for good (one set per failed training step).
    enableLeanBackprop();
    const x = tf.tensor([1, 2, 3, 4], [2, 2]);
    const throwing = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const v = args[0] as tf.Tensor;
      (args[1] as tf.GradSaveFunc)([v]);
      return {
        value: tf.square(v),
        gradFunc: () => {
          throw new Error('gradient failed');
        },
      };
    });
    const failures: Array<[string, (a: tf.Tensor) => tf.Tensor]> = [
      [
        'forward',
        (a) => {
          tf.mul(tf.relu(a), 2);
          throw new Error('forward failed');
        },
      ],
      ['gradient', (a) => tf.sum(throwing(tf.mul(tf.relu(a), 3)) as tf.Tensor)],
      ['late gradient', (a) => tf.sum(tf.mul(tf.exp(tf.sigmoid(throwing(tf.relu(a)) as tf.Tensor)), tf.sqrt(a)))],
    ];
    for (const [what, f] of failures) {
      const before = tf.memory().numTensors;
      expect(() => tf.tidy(() => tf.grad(f)(x)), what).toThrow(/failed/);
      expect(tf.memory().numTensors, what).toBe(before);
    }
    // A later step runs as before.
    const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.relu(a), a)))(x);
    expect(Array.from(g.dataSync())).toEqual([2, 4, 6, 8]);
    tf.dispose([g, x]);
  });
});

it('disableLeanBackprop restores the engine', () => {
  const before = (tf.engine() as unknown as { gradients: unknown }).gradients;
  enableLeanBackprop();
  enableLeanBackprop();
  expect((tf.engine() as unknown as { gradients: unknown }).gradients).not.toBe(before);
  disableLeanBackprop();
  expect((tf.engine() as unknown as { gradients: unknown }).gradients).toBe(before);
  expect(isLeanBackpropEnabled()).toBe(false);
});
