import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';

/** Deterministic values in [-1, 1) (a linear congruential sequence), so cpu and wasm see the same data. */
export function seeded(size: number, seed: number): Float32Array {
  const out = new Float32Array(size);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

export interface HostTensor {
  shape: number[];
  data: Float32Array | Int32Array;
  dtype: 'float32' | 'int32';
}

/**
 * Runs kernel `name` on `backend` with host inputs and returns its output as host data, asserting
 * that it leaves neither engine tensors nor backend buffers behind.
 */
export async function runKernelOn(
  backend: 'cpu' | 'wasm',
  name: string,
  inputs: Record<string, HostTensor>,
  attrs: Record<string, unknown>,
): Promise<HostTensor> {
  if (tf.getBackend() !== backend) await tf.setBackend(backend);
  const tensorsBefore = tf.memory().numTensors;
  const idsBefore = tf.backend().numDataIds();
  const ins: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(inputs)) ins[k] = tf.tensor(v.data, v.shape, v.dtype);
  const out = tf.engine().runKernel(name, ins as unknown as tf.NamedTensorMap, attrs as tf.NamedAttrMap) as tf.Tensor;
  const result: HostTensor = {
    shape: out.shape,
    data: out.dtype === 'int32' ? Int32Array.from(out.dataSync()) : Float32Array.from(out.dataSync()),
    dtype: out.dtype as 'float32' | 'int32',
  };
  out.dispose();
  Object.values(ins).forEach((t) => t.dispose());
  expect(tf.memory().numTensors, `${name} on ${backend}: engine tensors`).toBe(tensorsBefore);
  expect(tf.backend().numDataIds(), `${name} on ${backend}: backend buffers`).toBe(idsBefore);
  return result;
}

export function host(shape: number[], seed: number): HostTensor {
  return {
    shape,
    data: seeded(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
    dtype: 'float32',
  };
}

/** Whether two float32 arrays hold the same bits (a byte comparison: fast on millions of values). */
export function sameBits(a: Float32Array, b: Float32Array): boolean {
  const bytes = (x: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  return bytes(a).equals(bytes(b));
}
