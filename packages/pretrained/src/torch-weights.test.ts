import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as tfl from '@tensorflow/tfjs-layers';
import { createLearnableGroups } from '@phalanx/learnable-groups';
import { PhalanxConfigError } from '@phalanx/errors';
import { TINY_LG } from './tiny-models.fixture';
import { estimatorWithTorchWeights, readTorchCheckpoint } from './torch-weights';

let model: tfl.LayersModel;

beforeAll(async () => {
  await tf.setBackend('cpu');
  model = createLearnableGroups(TINY_LG);
});

afterAll(() => {
  model?.dispose();
});

describe('estimatorWithTorchWeights / readTorchCheckpoint: arguments of the wrong kind', () => {
  it('are named errors before anything is read or disposed: the model stays usable', async () => {
    const bytes = new Uint8Array(16);
    const cases: [unknown[], string][] = [
      [
        ['foo', model, bytes, 'w.pth'],
        "estimatorWithTorchWeights: name must be one of 'learnable-groups', 'ehpe', but received 'foo'.",
      ],
      [['ehpe', null, bytes, 'w.pth'], 'estimatorWithTorchWeights: model must be a tf.LayersModel, but received null.'],
      [
        ['learnable-groups', model, 'w.pth', 'w.pth'],
        "estimatorWithTorchWeights: bytes must be a Uint8Array (or Buffer) of a .pth/.pt or .safetensors file, but received 'w.pth'.",
      ],
      [
        ['learnable-groups', model, new ArrayBuffer(4), 'w.pth'],
        "estimatorWithTorchWeights: bytes must be a Uint8Array (or Buffer) of a .pth/.pt or .safetensors file, but received 'ArrayBuffer'.",
      ],
      // A TypeError ("file.toLowerCase is not a function") after the model was disposed, before.
      [
        ['learnable-groups', model, bytes, 5],
        'estimatorWithTorchWeights: file must be a file name (a string), but received 5.',
      ],
      [
        ['learnable-groups', model, bytes, undefined],
        'estimatorWithTorchWeights: file must be a file name (a string), but received undefined.',
      ],
    ];
    const before = tf.memory().numTensors;
    for (const [args, message] of cases) {
      const call = () => (estimatorWithTorchWeights as (...a: unknown[]) => Promise<unknown>)(...args);
      await expect(call(), message).rejects.toThrow(PhalanxConfigError);
      await expect(call()).rejects.toThrow(message);
      expect(model.weights.every((w) => !w.read().isDisposed)).toBe(true);
    }
    expect(tf.memory().numTensors).toBe(before);
    const input = tf.zeros([1, 64, 64, 3]);
    tf.dispose([input, model.predict(input) as tf.Tensor[]].flat());
    expect(() => readTorchCheckpoint(bytes, 5 as never)).toThrow(
      'readTorchCheckpoint: file must be a file name (a string), but received 5.',
    );
    expect(() => readTorchCheckpoint(null as never, 'w.pth')).toThrow(
      'readTorchCheckpoint: bytes must be a Uint8Array (or Buffer) of a .pth/.pt or .safetensors file, but received null.',
    );
  });
});
