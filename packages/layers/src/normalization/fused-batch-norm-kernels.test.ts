import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { expectClose, useBackend } from '@phalanx/testing';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  FUSED_BATCH_NORM_TRAINING_GRAD_KERNEL,
  FUSED_BATCH_NORM_TRAINING_KERNEL,
  fusedBatchNormKernelsAvailable,
} from './fused-batch-norm-kernels';
import { batchNormTraining } from './lean-batch-norm';

interface CpuBackendLike {
  readSync(dataId: tf.DataId): Float32Array;
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
}

const calls = { forward: 0, backward: 0 };

/**
 * A plain-JavaScript implementation of the documented kernel contract for `cpu` (a stand-in for a
 * backend package's kernels): the same formulas, in float64, summed per channel.
 */
function contractKernels(): tf.KernelConfig[] {
  const arrays = (backend: unknown, infos: tf.TensorInfo[]) =>
    infos.map((t) => Float64Array.from((backend as CpuBackendLike).readSync(t.dataId)));
  const make = (backend: unknown, shape: number[], values: Float64Array) =>
    (backend as CpuBackendLike).makeTensorInfo(shape, 'float32', Float32Array.from(values));
  return [
    {
      kernelName: FUSED_BATCH_NORM_TRAINING_KERNEL,
      backendName: 'cpu',
      kernelFunc: ({ inputs, backend, attrs }) => {
        calls.forward++;
        const { x, gamma, beta } = inputs as Record<string, tf.TensorInfo>;
        const eps = (attrs as { epsilon: number }).epsilon;
        const [xs, g, b] = arrays(backend, [x, gamma, beta]);
        const c = g.length;
        const n = xs.length / c;
        const mean = new Float64Array(c);
        const variance = new Float64Array(c);
        xs.forEach((v, i) => (mean[i % c] += v / n));
        xs.forEach((v, i) => (variance[i % c] += (v - mean[i % c]) ** 2 / n));
        const y = xs.map((v, i) => ((v - mean[i % c]) * g[i % c]) / Math.sqrt(variance[i % c] + eps) + b[i % c]);
        return [make(backend, x.shape, y), make(backend, [c], mean), make(backend, [c], variance)];
      },
    },
    {
      kernelName: FUSED_BATCH_NORM_TRAINING_GRAD_KERNEL,
      backendName: 'cpu',
      kernelFunc: ({ inputs, backend, attrs }) => {
        calls.backward++;
        const { dy, x, mean, variance, gamma } = inputs as Record<string, tf.TensorInfo>;
        const eps = (attrs as { epsilon: number }).epsilon;
        const [d, xs, m, v, g] = arrays(backend, [dy, x, mean, variance, gamma]);
        const c = g.length;
        const n = xs.length / c;
        const r = v.map((value) => 1 / Math.sqrt(value + eps));
        const dBeta = new Float64Array(c);
        const dGamma = new Float64Array(c);
        xs.forEach((value, i) => {
          dBeta[i % c] += d[i];
          dGamma[i % c] += d[i] * (value - m[i % c]) * r[i % c];
        });
        const dx = xs.map((value, i) => {
          const k = i % c;
          const xHat = (value - m[k]) * r[k];
          return g[k] * r[k] * (d[i] - dBeta[k] / n - (xHat * dGamma[k]) / n);
        });
        return [make(backend, x.shape, dx), make(backend, [c], dGamma), make(backend, [c], dBeta)];
      },
    },
  ];
}

/** y, μ, σ², ∂x, ∂γ, ∂β of batchNormTraining with L = Σ y·dy, as host arrays. */
function run(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, dy: tf.Tensor): Float32Array[] {
  return tf.tidy(() => {
    const [y, mean, variance] = batchNormTraining(x, gamma, beta, 1e-3);
    const grads = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const [out, ...stats] = batchNormTraining(a, g, b, 1e-3);
      tf.dispose(stats); // kept by batchNormTraining for the caller
      return tf.sum(tf.mul(out, dy));
    })([x, gamma, beta]);
    const out = [y, mean, variance, ...grads].map((t) => t.dataSync() as Float32Array);
    tf.dispose([mean, variance]);
    return out;
  });
}

describe('batchNormTraining runs the fused kernels a backend registers, else the composed ops', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });
  afterEach(() => {
    for (const name of [FUSED_BATCH_NORM_TRAINING_KERNEL, FUSED_BATCH_NORM_TRAINING_GRAD_KERNEL]) {
      if (tf.getKernel(name, 'cpu') != null) tf.unregisterKernel(name, 'cpu');
    }
  });

  it('same values and gradients through the kernel seam, nothing leaks, and the fallback comes back', () => {
    const x = tf.add(tf.mul(tf.randomNormal([3, 4, 5, 6], 0, 1, 'float32', 11), 2), tf.range(0, 6));
    const gamma = tf.randomUniform([6], 0.5, 1.5, 'float32', 12);
    const beta = tf.randomUniform([6], -1, 1, 'float32', 13);
    const dy = tf.randomNormal([3, 4, 5, 6], 0, 1, 'float32', 14);
    expect(fusedBatchNormKernelsAvailable()).toBe(false);
    const composed = run(x, gamma, beta, dy);

    for (const config of contractKernels()) tf.registerKernel(config);
    expect(fusedBatchNormKernelsAvailable()).toBe(true);
    const before = tf.memory().numTensors;
    calls.forward = calls.backward = 0;
    const viaKernels = run(x, gamma, beta, dy);
    expect(tf.memory().numTensors).toBe(before);
    // One forward for the values, one for the gradient's function; one backward.
    expect(calls).toEqual({ forward: 2, backward: 1 });
    const labels = ['y', 'mean', 'variance', '∂x', '∂gamma', '∂beta'];
    viaKernels.forEach((values, i) => {
      const scale = Math.max(1, ...Array.from(composed[i], Math.abs));
      expectClose(values, composed[i], { rtol: 1e-5, atol: 1e-5 * scale }, labels[i]);
    });

    tf.unregisterKernel(FUSED_BATCH_NORM_TRAINING_GRAD_KERNEL, 'cpu');
    expect(fusedBatchNormKernelsAvailable()).toBe(false); // both are needed
    const again = run(x, gamma, beta, dy);
    again.forEach((values, i) => expect(Array.from(values)).toEqual(Array.from(composed[i])));
    expect(calls.forward).toBe(2);
    tf.dispose([x, gamma, beta, dy]);
  });
});
