import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { PhalanxConfigError } from '@phalanx/errors';
import { useBackend } from '@phalanx/testing';
import { dynamicEdgeGAT } from '../graph/dynamic-edge-gat';
import { multiHeadAttention } from '../attention/multi-head-attention';
import { nthInitializer, resolveInitializer, serializeInitializer } from './initializers';

beforeAll(async () => {
  await useBackend('cpu');
});

const draw = (init: ReturnType<typeof nthInitializer>) => Array.from(tf.tidy(() => init.apply([4, 5]).dataSync()));

describe('initializers', () => {
  it('nthInitializer: a seeded initializer gets seed + k for the k-th weight; an unseeded one is kept', () => {
    const seeded = tfl.initializers.glorotUniform({ seed: 3 });
    expect(draw(nthInitializer(seeded, 0))).toEqual(draw(seeded));
    expect(draw(nthInitializer(seeded, 2))).toEqual(draw(tfl.initializers.glorotUniform({ seed: 5 })));
    expect(draw(nthInitializer(seeded, 1))).not.toEqual(draw(seeded));
    const unseeded = tfl.initializers.heNormal({});
    expect(nthInitializer(unseeded, 3)).toBe(unseeded);
    const minusOne = nthInitializer(tfl.initializers.glorotUniform({ seed: -1 }), 1);
    expect(serializeInitializer(minusOne).config.seed).not.toBe(0); // 0 would mean unseeded to tfjs
  });

  it('serializeInitializer stores an absent seed as null (as a saved model does) and round-trips', () => {
    const stored = serializeInitializer(tfl.initializers.glorotUniform({}));
    expect(stored).toEqual({
      className: 'VarianceScaling',
      config: { scale: 1, mode: 'fanAvg', distribution: 'uniform', seed: null },
    });
    expect(serializeInitializer(resolveInitializer('t', 'init', stored))).toEqual(stored);
    expect(() => resolveInitializer('t', 'init', { className: 'NoSuchInit', config: {} })).toThrow(PhalanxConfigError);
  });

  it('resolveInitializer refuses prototype keys as class names with a PhalanxConfigError (a hostile model.json)', () => {
    for (const className of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
      // As a saved layer config would carry it: parsed from JSON.
      const spec: unknown = JSON.parse(`{"className": "${className}", "config": {}}`);
      expect(() => resolveInitializer('t', 'init', spec), className).toThrow(PhalanxConfigError);
      expect(() => resolveInitializer('t', 'init', spec), className).toThrow(
        `t: init must be a registered initializer, but received {"className":"${className}","config":{}}.`,
      );
      expect(() => dynamicEdgeGAT({ units: 2, kernelInitializer: spec as never }), className).toThrow(
        'DynamicEdgeGAT: kernelInitializer must be a registered initializer',
      );
    }
    expect(() => resolveInitializer('t', 'init', 'constructor')).toThrow(PhalanxConfigError);
    expect(() => resolveInitializer('t', 'init', 'toString')).toThrow(PhalanxConfigError);
  });

  it('attention layers: a seeded kernelInitializer repeats across builds and gives every kernel its own numbers', () => {
    const kernels = (layer: tfl.layers.Layer) =>
      layer.weights.filter((w) => !/Bias$|\/bias$/.test(w.originalName)).map((w) => Array.from(w.read().dataSync()));
    const builds = [
      () =>
        multiHeadAttention({ numHeads: 2, units: 8, kernelInitializer: tfl.initializers.glorotUniform({ seed: 9 }) }),
      () =>
        dynamicEdgeGAT({
          units: 4,
          heads: 2,
          attention: 'dotProduct',
          kernelInitializer: { className: 'GlorotUniform', config: { seed: 9 } },
        }),
    ];
    for (const make of builds) {
      const [a, b] = [make(), make()];
      [a, b].forEach((layer) => layer.apply(tf.zeros([1, 21, 8])));
      const [ka, kb] = [kernels(a), kernels(b)];
      expect(ka.length).toBeGreaterThanOrEqual(3);
      expect(kb).toEqual(ka);
      for (let i = 1; i < ka.length; i++) expect(ka[i], `kernel ${i}`).not.toEqual(ka[0]);
      [a, b].forEach((layer) => layer.dispose());
    }
  });
});
