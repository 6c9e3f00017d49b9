import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { readCheckpoint } from '../src/checkpoint';

// The .pth fixtures of @phalanx/layers, written by torch.save (packages/layers/scripts/make-pth-fixtures.py).
const fixtures = new URL('../../../packages/layers/test/fixtures/pth/', import.meta.url);
const fixture = (name: string) => new Uint8Array(readFileSync(new URL(name, fixtures)));
const expected = JSON.parse(readFileSync(new URL('expected.json', fixtures), 'utf8')) as Record<
  string,
  Record<string, { shape: number[] }>
>;

describe("the demo's checkpoint picker reads a .pth", () => {
  it("takes the selector temperature from a training checkpoint's top-level Temperature", () => {
    // nested.pth: {'epoch', 'Temperature': 0.5, 'model_state_dict', 'optimizer_state_dict', 'history'}
    const { tensors, temperature } = readCheckpoint(fixture('nested.pth'), 'nested.pth');
    expect(temperature).toBe(0.5);
    expect(Object.keys(tensors)).toEqual(Object.keys(expected['nested.pth']));
    for (const [name, t] of Object.entries(tensors)) expect(t.shape).toEqual(expected['nested.pth'][name].shape);
    tf.dispose(Object.values(tensors));
  });

  it('gives no temperature for a plain state_dict', () => {
    const { tensors, temperature } = readCheckpoint(fixture('zip.pth'), 'zip.pth');
    expect(temperature).toBeUndefined();
    expect(Object.keys(tensors)).toEqual(Object.keys(expected['zip.pth']));
    tf.dispose(Object.values(tensors));
  });
});
