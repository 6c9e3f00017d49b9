import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { PhalanxConfigError } from '@phalanx/errors';
import { useBackend } from '@phalanx/testing';
import { ACTIVATION_IDENTIFIERS, type ActivationIdentifier, applyActivation, checkActivation } from './activations';

beforeAll(async () => {
  await useBackend('cpu');
});

/** Registered tfjs class names that are not activations, prototype keys, and strings nothing registers. */
const NOT_ACTIVATIONS = ['L1L2', 'Zeros', 'Ones', 'Dense', 'toString', '__proto__', 'constructor', 'nope', 'Relu'];

describe('activations', () => {
  it('applyActivation applies every identifier with the numbers of tfjs-layers (softmax on the last axis)', () => {
    const x = tf.tensor2d([
      [-2, 0.5],
      [1, 3],
    ]);
    for (const id of ACTIVATION_IDENTIFIERS) {
      const y = applyActivation(x, id);
      expect(y.shape, id).toEqual([2, 2]);
      if (id === 'linear') expect(y).toBe(x);
      else y.dispose();
    }
    const relu = applyActivation(x, 'relu');
    expect(relu.arraySync()).toEqual([
      [0, 0.5],
      [1, 3],
    ]);
    const rows = tf.sum(applyActivation(x, 'softmax'), -1);
    expect(Array.from(rows.dataSync()).map((v) => Math.round(v * 1e6) / 1e6)).toEqual([1, 1]);
    tf.dispose([x, relu, rows]);
  });

  it('applyActivation refuses anything but an activation identifier with a PhalanxConfigError, leaking nothing', () => {
    const x = tf.ones([2, 3]);
    const before = tf.memory().numTensors;
    for (const id of NOT_ACTIVATIONS) {
      const apply = () => applyActivation(x, id as ActivationIdentifier);
      expect(apply, id).toThrow(PhalanxConfigError);
      expect(apply, id).toThrow(`applyActivation: identifier must be one of 'elu',`);
      expect(apply, id).toThrow(`but received '${id}'.`);
    }
    expect(() => applyActivation(x, undefined as unknown as ActivationIdentifier)).toThrow(PhalanxConfigError);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('checkActivation accepts the identifiers (and geluNew as gelu_new) and refuses everything else', () => {
    for (const id of ACTIVATION_IDENTIFIERS) expect(checkActivation('C', id)).toBe(id);
    expect(checkActivation('C', 'geluNew')).toBe('gelu_new');
    for (const id of [...NOT_ACTIVATIONS, 1, null, {}]) {
      expect(() => checkActivation('C', id), String(id)).toThrow(PhalanxConfigError);
    }
    expect(() => checkActivation('C', 'toString', 'finalActivation')).toThrow(
      "C: finalActivation must be one of 'elu',",
    );
  });
});
