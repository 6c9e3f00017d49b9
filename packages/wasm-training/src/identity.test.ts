import * as tf from '@tensorflow/tfjs-core';
import '@phalanx/testing';
import { useBackend } from '@phalanx/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { castConfig, identityConfig } from './identity';
import { WASM } from './kernel-scope';
import './register';

describe('wasm Identity / Cast without copies', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });

  it('are the registered wasm kernels', () => {
    expect(tf.getKernel(tf.Identity, WASM)).toBe(identityConfig);
    expect(tf.getKernel(tf.Cast, WASM)).toBe(castConfig);
  });

  it('clone shares the buffer (no new backend buffer), survives disposing its source and frees it last', async () => {
    const ids0 = tf.backend().numDataIds();
    const x = tf.tensor([1, 2, 3, 4], [2, 2]);
    const y = tf.clone(x);
    const z = tf.cast(x, 'float32');
    expect(tf.backend().numDataIds()).toBe(ids0 + 1);
    x.dispose();
    expect(Array.from(await y.data())).toEqual([1, 2, 3, 4]);
    expect(Array.from(await z.data())).toEqual([1, 2, 3, 4]);
    y.dispose();
    expect(Array.from(await z.data())).toEqual([1, 2, 3, 4]);
    z.dispose();
    expect(tf.backend().numDataIds()).toBe(ids0);
  });

  it('a later op on the clone does not change the source (tensors stay immutable)', async () => {
    const x = tf.tensor([1, -2, 3]);
    const y = tf.clone(x);
    const r = tf.relu(y);
    expect(Array.from(await r.data())).toEqual([1, 0, 3]);
    expect(Array.from(await x.data())).toEqual([1, -2, 3]);
    tf.dispose([x, y, r]);
  });

  it('other casts still convert (stock kernel)', async () => {
    const f = tf.tensor([1.7, -2.2, 0]);
    const i = tf.cast(f, 'int32');
    expect(i.dtype).toBe('int32');
    expect(Array.from(await i.data())).toEqual([1, -2, 0]);
    const back = tf.cast(i, 'float32');
    expect(back.dtype).toBe('float32');
    expect(Array.from(await back.data())).toEqual([1, -2, 0]);
    const same = tf.cast(i, 'int32');
    expect(Array.from(await same.data())).toEqual([1, -2, 0]);
    tf.dispose([f, i, back, same]);
  });

  it('saved tensors of a gradient cost no extra wasm buffer and the gradient is right', async () => {
    const x = tf.tensor([0.5, -1, 2]);
    const ids0 = tf.backend().numDataIds();
    const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(a, a)))(x);
    expect(Array.from(await g.data())).toEqual([1, -2, 4]);
    g.dispose();
    expect(tf.backend().numDataIds()).toBe(ids0);
    x.dispose();
  });
});
