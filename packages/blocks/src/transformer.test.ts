import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@phalanx/testing';
import { PhalanxConfigError } from '@phalanx/errors';
import { deriveNoiseSeed, findNoiseStreamLayers, MultiHeadAttention, SeededDropout } from '@phalanx/layers';
import { crossAttentionBlock, transformerBlock, type TransformerBlockOptions } from './transformer';

beforeAll(() => useBackend('cpu'));

/** A self-attention block then a cross-attention block on `[B, 5, 8]` tokens, as a model. */
function blocks(options: Partial<TransformerBlockOptions> = {}): tfl.LayersModel {
  const q = tfl.input({ shape: [5, 8] });
  const kv = tfl.input({ shape: [7, 8] });
  const sa = transformerBlock(q, { heads: 2, mlpRatio: 2, dropout: 0.3, name: 'sa', ...options });
  const seed = options.dropoutSeed == null ? {} : { dropoutSeed: options.dropoutSeed + 1 };
  const ca = crossAttentionBlock(sa, kv, { heads: 2, mlpRatio: 2, dropout: 0.3, name: 'ca', ...options, ...seed });
  return tfl.model({ inputs: [q, kv], outputs: ca });
}

/** The training output of `model` on fixed inputs, as host values. */
function trainingOutput(model: tfl.LayersModel): number[] {
  return tf.tidy(() => {
    const inputs = [tf.randomNormal([2, 5, 8], 0, 1, 'float32', 1), tf.randomNormal([2, 7, 8], 0, 1, 'float32', 2)];
    return Array.from((model.apply(inputs, { training: true }) as tf.Tensor).dataSync());
  });
}

describe('transformer blocks: dropoutSeed', () => {
  it("without a seed, the topology is today's: tfjs-layers Dropout, no dropoutSeed in the attention", () => {
    const model = blocks();
    const classes = model.layers.filter((l) => /mlp\.[24]$/.test(l.name)).map((l) => l.getClassName());
    expect(classes).toEqual(['Dropout', 'Dropout', 'Dropout', 'Dropout']);
    const attention = model.layers.filter((l) => l instanceof MultiHeadAttention);
    expect(attention.map((l) => l.getConfig().dropoutSeed)).toEqual([undefined, undefined]);
    model.dispose();
  });

  it('with a seed, every dropout site gets its own derived seed: attention 0, MLP 1 and 2', () => {
    const model = blocks({ dropoutSeed: 40 });
    const seeds = Object.fromEntries(
      findNoiseStreamLayers(model).map((l) => [l.name, l.getNoiseState().seed] as [string, number | null]),
    );
    expect(seeds).toEqual({
      'sa.attn': deriveNoiseSeed(40, 0),
      'sa.mlp.2': deriveNoiseSeed(40, 1),
      'sa.mlp.4': deriveNoiseSeed(40, 2),
      'ca.attn': deriveNoiseSeed(41, 0),
      'ca.mlp.2': deriveNoiseSeed(41, 1),
      'ca.mlp.4': deriveNoiseSeed(41, 2),
    });
    expect(model.getLayer('sa.mlp.2')).toBeInstanceOf(SeededDropout);
    model.dispose();
  });

  it('two models with the same seed and weights give the same training outputs, call after call', () => {
    const a = blocks({ dropoutSeed: 7 });
    const b = blocks({ dropoutSeed: 7 });
    b.setWeights(a.getWeights());
    const [a0, a1] = [trainingOutput(a), trainingOutput(a)];
    expect([trainingOutput(b), trainingOutput(b)]).toEqual([a0, a1]);
    expect(a1).not.toEqual(a0);
    const c = blocks({ dropoutSeed: 8 });
    c.setWeights(a.getWeights());
    expect(trainingOutput(c)).not.toEqual(a0);
    [a, b, c].forEach((m) => m.dispose());
  });

  it('refuses a seed that is not an integer, by name', () => {
    const q = tfl.input({ shape: [5, 8] });
    expect(() => transformerBlock(q, { heads: 2, name: 'sa', dropoutSeed: 0.5 })).toThrow(
      new PhalanxConfigError('transformerBlock', 'dropoutSeed', 'an integer or null', 0.5),
    );
  });
});

describe('transformer blocks: the MLP ratio', () => {
  it('a ratio beyond MODEL_LIMITS.repeats is refused before any layer, not a RangeError after the attention', () => {
    const q = tfl.input({ shape: [5, 4] });
    for (const build of [
      () => transformerBlock(q, { heads: 2, mlpRatio: 1e9, name: 'sa' }),
      () => crossAttentionBlock(q, q, { heads: 2, mlpRatio: 1e9, name: 'ca' }),
    ]) {
      const before = tf.memory().numTensors;
      expect(build).toThrow(PhalanxConfigError);
      expect(build).toThrow(
        /^(transformerBlock|crossAttentionBlock): mlpRatio must be an integer in \[1, 64\], but received 1000000000\.$/,
      );
      expect(tf.memory().numTensors).toBe(before);
    }
    expect(transformerBlock(q, { heads: 2, mlpRatio: 64, name: 'max' }).shape).toEqual([null, 5, 4]);
  });
});
