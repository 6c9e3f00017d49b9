import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  expectConfigRoundTrip,
  expectNoLeakInPredictAndTrain,
  expectSaveLoadIdentical,
  modelAround,
  useBackend,
} from '@phalanx/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { PhalanxConfigError } from '@phalanx/errors';
import { concreteJointSelector } from '../selector/concrete-joint-selector';
import { dynamicEdgeGAT } from '../graph/dynamic-edge-gat';
import {
  checkNoiseSeed,
  deriveNoiseSeed,
  findNoiseStreamLayers,
  hasNoiseStream,
  NoiseStream,
} from '../util/noise-stream';
import { SeededDropout, seededDropout, seededDropoutCore } from './seeded-dropout';

beforeAll(async () => {
  await useBackend('cpu');
});

/** The output of one call of `layer` on ones `[4, 64]` (training by default), as host values. */
function draw(layer: tfl.layers.Layer, training = true): Float32Array {
  return tf.tidy(() => (layer.apply(tf.ones([4, 64]), { training }) as tf.Tensor).dataSync() as Float32Array);
}

describe('NoiseStream', () => {
  it('gives draw k the tf seed `${seed}:${k}`, none when unseeded, and moves with get/set state', () => {
    const s = new NoiseStream('Test', 'seed', 7);
    expect([s.next(), s.next()]).toEqual(['7:0', '7:1']);
    expect(s.getState()).toEqual({ seed: 7, calls: 2 });
    s.setState({ calls: 40, seed: 7 });
    expect(s.next()).toBe('7:40');
    const unseeded = new NoiseStream('Test', 'seed', undefined);
    expect([unseeded.seed, unseeded.next(), unseeded.getState().calls]).toEqual([null, undefined, 1]);
  });

  it('refuses bad seeds and states with named errors', () => {
    expect(() => new NoiseStream('Test', 'dropoutSeed', 1.5)).toThrow(
      new PhalanxConfigError('Test', 'dropoutSeed', 'an integer or null', 1.5),
    );
    expect(() => checkNoiseSeed('Test', 'seed', '3')).toThrow(PhalanxConfigError);
    expect(() => checkNoiseSeed('Test', 'seed', 2 ** 60)).toThrow(PhalanxConfigError);
    const s = new NoiseStream('Test', 'seed', 3);
    expect(() => s.setState({ calls: -1 })).toThrow(PhalanxConfigError);
    expect(() => s.setState({ calls: 0.5 })).toThrow(/Test: noise state calls/);
    expect(() => s.setState(null as never)).toThrow('Test: noise state must be an object');
    expect(() => s.setState({ calls: 1, seed: 4 })).toThrow("Test: noise state seed must be this layer's seed (3)");
    expect(s.getState()).toEqual({ seed: 3, calls: 0 });
  });

  it('derives distinct, deterministic, non-zero 31-bit seeds per site', () => {
    const seeds = [0, 1, 2, 3, 4].map((k) => deriveNoiseSeed(11, k));
    expect(new Set(seeds).size).toBe(5);
    expect(seeds).toEqual([0, 1, 2, 3, 4].map((k) => deriveNoiseSeed(11, k)));
    expect(deriveNoiseSeed(12, 0)).not.toBe(seeds[0]);
    for (const s of seeds) expect(Number.isInteger(s) && s >= 1 && s < 2 ** 31).toBe(true);
  });
});

describe('seededDropoutCore', () => {
  it('is tf.dropout with the seed in training, the input itself otherwise', () => {
    const x = tf.randomNormal([8, 16], 0, 1, 'float32', 3);
    const y = seededDropoutCore(x, { rate: 0.25, training: true, seed: '5:0' });
    const reference = tf.dropout(x, 0.25, undefined, '5:0');
    expect(Array.from(y.dataSync())).toEqual(Array.from(reference.dataSync()));
    expect(seededDropoutCore(x, { rate: 0.25 })).toBe(x);
    expect(seededDropoutCore(x, { rate: 0, training: true })).toBe(x);
    expect(() => seededDropoutCore(x, { rate: 1, training: true })).toThrow(PhalanxConfigError);
    tf.dispose([x, y, reference]);
  });
});

describe('SeededDropout', () => {
  it('same seed ⇒ the same masks in two fresh layers; successive calls and other seeds differ', () => {
    const a = seededDropout({ rate: 0.5, seed: 9 });
    const b = seededDropout({ rate: 0.5, seed: 9 });
    const [a0, a1] = [draw(a), draw(a)];
    const [b0, b1] = [draw(b), draw(b)];
    expect(Array.from(b0)).toEqual(Array.from(a0));
    expect(Array.from(b1)).toEqual(Array.from(a1));
    expect(Array.from(a1)).not.toEqual(Array.from(a0));
    expect(Array.from(draw(seededDropout({ rate: 0.5, seed: 10 })))).not.toEqual(Array.from(a0));
    // Kept entries are scaled by 1 / (1 − rate), as tf.dropout; about half are dropped.
    expect(new Set(a0)).toEqual(new Set([0, 2]));
    const kept = a0.filter((v) => v !== 0).length / a0.length;
    expect(kept).toBeGreaterThan(0.3);
    expect(kept).toBeLessThan(0.7);
  });

  it('save/restore of the noise state continues the stream exactly', () => {
    const a = seededDropout({ rate: 0.3, seed: 4 });
    draw(a);
    draw(a);
    const saved = a.getNoiseState();
    expect(saved).toEqual({ seed: 4, calls: 2 });
    const next = draw(a);
    const b = seededDropout({ rate: 0.3, seed: 4 });
    b.setNoiseState(saved);
    expect(Array.from(draw(b))).toEqual(Array.from(next));
    expect(() => b.setNoiseState({ calls: 1, seed: 5 })).toThrow(
      "SeededDropout: noise state seed must be this layer's seed (4), but received 5.",
    );
  });

  it('is the identity at inference (and with rate 0), drawing nothing', () => {
    const layer = seededDropout({ rate: 0.5, seed: 1 });
    const x = tf.randomNormal([3, 5]);
    const values = Array.from(x.dataSync());
    const outputs = [
      layer.apply(x),
      layer.apply(x, { training: false }),
      seededDropout({ rate: 0, seed: 1 }).apply(x, { training: true }),
    ] as tf.Tensor[];
    for (const y of outputs) expect(Array.from(y.dataSync())).toEqual(values);
    expect(layer.getNoiseState().calls).toBe(0);
    tf.dispose([x, ...outputs]);
  });

  it('refuses bad arguments with named errors', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ rate: 0.1, seed: 1.5 }, 'SeededDropout: seed must be an integer or null, but received 1.5.'],
      [{ rate: 0.1 }, 'SeededDropout: seed must be an integer'],
      [{ rate: 0.1, seed: null }, 'SeededDropout: seed must be an integer'],
      [{ rate: 1, seed: 1 }, 'SeededDropout: rate must be a number in [0, 1)'],
      [{ rate: -0.1, seed: 1 }, 'SeededDropout: rate must be a number in [0, 1)'],
    ];
    for (const [args, message] of cases) {
      expect(() => new SeededDropout(args as never), JSON.stringify(args)).toThrow(PhalanxConfigError);
      expect(() => new SeededDropout(args as never), JSON.stringify(args)).toThrow(message);
    }
    expect(() => new SeededDropout(null as never)).toThrow(PhalanxConfigError);
  });

  it('survives a getConfig round trip and save/load (weightless, same seed)', async () => {
    expectConfigRoundTrip(seededDropout({ rate: 0.2, seed: 33, name: 'drop' }));
    const model = modelAround(seededDropout({ rate: 0.2, seed: 33 }), [[6]]);
    const x = tf.randomNormal([2, 6]);
    const loaded = await expectSaveLoadIdentical(model, [x]);
    const layer = loaded.layers[1] as SeededDropout;
    expect(layer).toBeInstanceOf(SeededDropout);
    expect(layer.getNoiseState()).toEqual({ seed: 33, calls: 0 });
    x.dispose();
  });

  it('does not leak tensors in predict or training steps', async () => {
    const model = tfl.sequential({
      layers: [tfl.layers.dense({ inputShape: [6], units: 4 }), seededDropout({ rate: 0.3, seed: 2 })],
    });
    const x = tf.randomNormal([2, 6]);
    await expectNoLeakInPredictAndTrain(model, [x]);
    const before = tf.memory().numTensors;
    draw(seededDropout({ rate: 0.3, seed: 2 }));
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});

describe('findNoiseStreamLayers', () => {
  it('refuses a model that is not one by name (a TypeError before)', () => {
    expect(() => findNoiseStreamLayers(null as never)).toThrow(PhalanxConfigError);
    expect(() => findNoiseStreamLayers(null as never)).toThrow(
      'findNoiseStreamLayers: model must be a tf.LayersModel or layer, but received null.',
    );
  });

  it('finds selectors, attention layers and seeded dropouts of a model (nested included), once each', () => {
    const x = tfl.input({ shape: [21, 4] });
    const g = dynamicEdgeGAT({ units: 2, heads: 2, attentionDropout: 0.1, dropoutSeed: 1, name: 'gat' }).apply(
      x,
    ) as tfl.SymbolicTensor;
    const d = seededDropout({ rate: 0.1, seed: 2, name: 'drop' }).apply(g) as tfl.SymbolicTensor;
    const inner = tfl.model({ inputs: x, outputs: tfl.layers.dense({ units: 3 }).apply(d) as tfl.SymbolicTensor });
    const y = tfl.input({ shape: [2, 5, 2] });
    const s = concreteJointSelector({ numJoints: 5, numGroups: 2, seed: 3, name: 'sel' }).apply(y);
    const outer = tfl.model({
      inputs: [x, y],
      outputs: [inner.apply(x) as tfl.SymbolicTensor, s as tfl.SymbolicTensor],
    });
    expect(
      findNoiseStreamLayers(outer)
        .map((l) => l.name)
        .sort(),
    ).toEqual(['drop', 'gat', 'sel']);
    expect(hasNoiseStream(tfl.layers.dropout({ rate: 0.1 }))).toBe(false);
  });
});
