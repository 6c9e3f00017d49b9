import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { PhalanxConfigError } from '@phalanx/errors';
import { useBackend } from '@phalanx/testing';
import { dynamicEdgeGAT } from '../graph/dynamic-edge-gat';
import { multiHeadAttention } from '../attention/multi-head-attention';
import { nthInitializer, registeredInitializerClasses, resolveInitializer, serializeInitializer } from './initializers';
import '../fusion/group-fusion';

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

  it('resolveInitializer refuses registered classes that are not initializers (L1L2, Dense, …) by name', () => {
    const cases: [unknown, string][] = [
      [{ className: 'L1L2', config: {} }, 'a regularizer'],
      [{ className: 'L1L2' }, 'a regularizer'],
      ['Dense', 'a layer'],
      [{ className: 'Dense', config: { units: 2 } }, 'a layer'],
      [{ className: 'NonNeg', config: {} }, 'a constraint'],
      [{ className: 'relu', config: {} }, 'an activation'],
      [{ className: 'Adam', config: {} }, 'an optimizer'],
      ['Sequential', 'a layer'],
    ];
    for (const [spec, kind] of cases) {
      const resolve = () => resolveInitializer('t', 'init', spec);
      expect(resolve, JSON.stringify(spec)).toThrow(PhalanxConfigError);
      expect(resolve, JSON.stringify(spec)).toThrow(
        `t: init must be an initializer, not ${kind}: a registered initializer class (`,
      );
      expect(resolve).toThrow(
        `or its identifier (e.g. 'glorotUniform', 'he_normal'), but received ${typeof spec === 'string' ? `'${spec}'` : JSON.stringify(spec)}.`,
      );
    }
    const message = (() => {
      try {
        resolveInitializer('t', 'init', 'Dense');
      } catch (e) {
        return (e as Error).message;
      }
    })();
    for (const name of ['GlorotUniform', 'HeNormal', 'Zeros', 'NddrKernel']) expect(message).toContain(`'${name}'`);
    expect(message).not.toContain("'L1L2'");
  });

  it('registeredInitializerClasses: every listed class resolves to an initializer; tfjs and Phalanx ones are listed', () => {
    const names = registeredInitializerClasses();
    expect(names).toEqual(
      expect.arrayContaining(['Constant', 'GlorotUniform', 'Orthogonal', 'VarianceScaling', 'NddrKernel']),
    );
    for (const bad of ['L1L2', 'Dense', 'MaxNorm', 'relu', 'SGD']) expect(names).not.toContain(bad);
    const required: Record<string, tf.serialization.ConfigDict> = {
      Constant: { value: 1 },
      NddrKernel: { numGroups: 2 },
    };
    for (const className of names) {
      const made = resolveInitializer('t', 'init', { className, config: required[className] ?? {} });
      expect(typeof made.apply, className).toBe('function'); // GlorotNormal & co. report 'VarianceScaling'
      expect(typeof made.getConfig, className).toBe('function');
    }
  });

  it('resolveInitializer names a config that is not an object or that the class refuses', () => {
    expect(() => resolveInitializer('t', 'init', { className: 'GlorotUniform', config: 3 })).toThrow(
      't: init.config must be an object, but received 3.',
    );
    expect(() => resolveInitializer('t', 'init', { className: 'VarianceScaling', config: { scale: -1 } })).toThrow(
      PhalanxConfigError,
    );
    expect(() => resolveInitializer('t', 'init', { className: 'NddrKernel', config: {} })).toThrow(
      'NddrKernel: numGroups must be',
    );
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
