import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@phalanx/testing';
import { batchNormTestWeights, expectClose, useBackend } from '@phalanx/testing';
import { fusedBatchNormKernelsAvailable, leanBatchNormalization } from '@phalanx/layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { WASM } from './kernel-scope';
import { registerWasmTrainingKernels, unregisterWasmTrainingKernels } from './register';

/** A one-layer model with @phalanx/layers' lean batch norm, or with tfjs-layers' own; same weights. */
function model(kind: 'lean' | 'stock', c: number): tfl.LayersModel {
  const input = tfl.input({ shape: [6, 5, c] });
  const args = { axis: -1, epsilon: 1e-5, momentum: 0.9 };
  const layer = kind === 'lean' ? leanBatchNormalization(args) : tfl.layers.batchNormalization(args);
  const m = tfl.model({ inputs: input, outputs: layer.apply(input) as tfl.SymbolicTensor });
  const weights = batchNormTestWeights(c);
  m.layers[1].setWeights(weights);
  tf.dispose(weights);
  return m;
}

/** Training-mode output, ∂x, ∂γ, ∂β and the updated moving statistics, as host arrays. */
function trainingStep(m: tfl.LayersModel, x: tf.Tensor, dy: tf.Tensor): Float32Array[] {
  const vars = m.trainableWeights.map((w) => w.read() as tf.Variable);
  const loss = (a: tf.Tensor) => tf.sum(tf.mul(m.apply(a, { training: true }) as tf.Tensor, dy));
  const gx = tf.grad(loss)(x);
  const { value, grads } = tf.variableGrads(() => loss(x) as tf.Scalar, vars);
  const y = m.apply(x, { training: true }) as tf.Tensor;
  const moving = m.layers[1].getWeights().slice(2);
  const out = [y, gx, ...vars.map((v) => grads[v.name]), ...moving].map((t) => Float32Array.from(t.dataSync()));
  tf.dispose([y, gx, value, ...Object.values(grads)]); // `moving` are the layer's own variables
  return out;
}

describe("@phalanx/layers' lean batch norm on the fused wasm kernels", () => {
  beforeAll(async () => {
    await useBackend(WASM);
  });

  it("runs them, and equals tfjs-layers' BatchNormalization within float32 rounding", () => {
    expect(fusedBatchNormKernelsAvailable()).toBe(true);
    const c = 13;
    const x = tf.add(tf.mul(tf.randomNormal([3, 6, 5, c], 0, 1, 'float32', 5), 3), 0.5);
    const dy = tf.randomNormal([3, 6, 5, c], 0, 1, 'float32', 6);
    const lean = model('lean', c);
    const stock = model('stock', c);
    const before = tf.memory().numTensors;
    const ours = trainingStep(lean, x, dy);
    expect(tf.memory().numTensors, 'tensors left by a training step').toBe(before);
    const theirs = trainingStep(stock, x, dy);
    const labels = ['y', '∂x', '∂gamma', '∂beta', 'moving mean', 'moving variance'];
    ours.forEach((values, i) => {
      const scale = Math.max(1, ...Array.from(theirs[i], Math.abs));
      expectClose(values, theirs[i], { rtol: 1e-5, atol: 1e-5 * scale }, labels[i]);
    });
    tf.dispose([x, dy]);
    lean.dispose();
    stock.dispose();
  });

  it('unregistering the package takes them away (the composed ops run again)', () => {
    unregisterWasmTrainingKernels();
    try {
      expect(fusedBatchNormKernelsAvailable()).toBe(false);
    } finally {
      registerWasmTrainingKernels();
    }
    expect(fusedBatchNormKernelsAvailable()).toBe(true);
  });
});
