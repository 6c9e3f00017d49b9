/**
 * Arguments that are not what an exported function reads — `null` options, a number for a string, a
 * misspelt option — are a named PhalanxConfigError naming the function and the argument, never a raw
 * TypeError from reading a property of `null` (nor a silently ignored key).
 */
import { PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { describe, expect, it } from 'vitest';
import { thrownBy } from '@phalanx/testing';
import { KeypointEvaluator } from './evaluator';
import {
  applySimilarity,
  gaussianHeatmaps,
  gaussianHeatmapsArray,
  normalizeHand,
  procrustesAlign,
  recoverRootDepth,
  similarityTransform,
  uvdToXyz,
  xyzToUvd,
} from './geometry';
import { escapeXml, pckCurveToSvg } from './pck-svg';
import { randomHand, rng, TEST_K } from '../test/hands';

const K = TEST_K;
const hand = randomHand(rng(9));
const uvd = xyzToUvd(hand, K).uvd;

describe('options objects', () => {
  // [function, call with the options, expected text].
  const calls: [string, (options: unknown) => unknown, string][] = [
    ['uvdToXyz', (o) => uvdToXyz(uvd, K, o as never), 'an options object {rootDepth, scale?}'],
    ['xyzToUvd', (o) => xyzToUvd(hand, K, o as never), 'an options object {root?, ref?}'],
    ['normalizeHand', (o) => normalizeHand(hand, o as never), 'an options object {root?, ref?}'],
    ['recoverRootDepth', (o) => recoverRootDepth(uvd, K, o as never), 'an options object {root?, ref?, boneLength?}'],
    [
      'similarityTransform',
      (o) => similarityTransform(hand, hand, o as never),
      'an options object {scale?, allowReflection?}',
    ],
    ['procrustesAlign', (o) => procrustesAlign(hand, hand, o as never), 'an options object {scale?, allowReflection?}'],
    ['gaussianHeatmaps', (o) => gaussianHeatmaps([[1, 2]], o as never), '{height, width, …}'],
    ['gaussianHeatmapsArray', (o) => gaussianHeatmapsArray([[1, 2]], o as never), '{height, width, …}'],
    [
      'KeypointEvaluator',
      (o) => new KeypointEvaluator(o as never),
      'an options object {numJoints?, jointClasses?, jointNames?}',
    ],
    [
      'KeypointEvaluator.measures',
      (o) => new KeypointEvaluator().feed(hand, hand).measures(o as never),
      '{min, max, steps?, units?}',
    ],
    [
      'pckCurveToSvg',
      (o) => pckCurveToSvg({ thresholds: [0, 1], pckCurve: [0, 1] }, o as never),
      'an options object {width?, height?, title?, …}',
    ],
  ];

  it('null, an array or a string is a PhalanxConfigError naming the function, not a TypeError', () => {
    for (const [name, call, expected] of calls) {
      for (const [options, shown] of [
        [null, 'null'],
        [[], '[]'],
        ['root', "'root'"],
      ] as const) {
        const error = thrownBy(() => call(options));
        expect(error, name).toBeInstanceOf(PhalanxConfigError);
        expect((error as Error).message).toBe(`${name}: options must be ${expected}, but received ${shown}.`);
      }
    }
  });

  it('a misspelt key is named instead of being ignored', () => {
    expect(() => uvdToXyz(uvd, K, { rootDepth: 0.5, scael: 2 } as never)).toThrow(
      'uvdToXyz: options.scael must be an option (one of rootDepth, scale), but received 2.',
    );
    expect(() => recoverRootDepth(uvd, K, { bonelength: 2 } as never)).toThrow(
      'recoverRootDepth: options.bonelength must be an option (one of root, ref, boneLength), but received 2.',
    );
    expect(() => new KeypointEvaluator({ numjoints: 5 } as never)).toThrow(
      'KeypointEvaluator: options.numjoints must be an option (one of numJoints, jointClasses, jointNames)',
    );
    // Every documented key is accepted.
    expect(() => uvdToXyz(uvd, K, { rootDepth: 0.5, scale: 2 })).not.toThrow();
    expect(() => recoverRootDepth(uvd, K, { root: 9, ref: 10, boneLength: 1 })).not.toThrow();
    expect(() => procrustesAlign(hand, hand, { scale: false, allowReflection: true })).not.toThrow();
  });
});

describe('other arguments', () => {
  it('procrustes options are booleans: a string or number is named, not read by truthiness', () => {
    const mirrored = hand.map(([x, y, z]) => [-x, y, z]);
    for (const [options, shown, argument] of [
      [{ allowReflection: 'false' }, "'false'", 'allowReflection'],
      [{ allowReflection: 1 }, '1', 'allowReflection'],
      [{ scale: 'false' }, "'false'", 'scale'],
      [{ scale: 0 }, '0', 'scale'],
    ] as const) {
      for (const [component, run] of [
        ['similarityTransform', () => similarityTransform(mirrored, hand, options as never)],
        ['procrustesAlign', () => procrustesAlign(mirrored, hand, options as never)],
        ['procrustesAlign', () => procrustesAlign([mirrored], [hand], options as never)],
      ] as const) {
        const error = thrownBy(run);
        expect(error, `${component} ${shown}`).toBeInstanceOf(PhalanxConfigError);
        expect((error as Error).message).toBe(`${component}: ${argument} must be a boolean, but received ${shown}.`);
      }
    }
    // The booleans themselves still work: a mirror image is matched exactly only with reflections allowed.
    expect(similarityTransform(mirrored, hand, { allowReflection: true }).scale).toBeCloseTo(1, 12);
    expect(similarityTransform(mirrored, hand, { scale: false }).scale).toBe(1);
  });

  it('escapeXml refuses what is not a string', () => {
    for (const [text, shown] of [
      [null, 'null'],
      [undefined, 'undefined'],
      [42, '42'],
    ] as const) {
      expect(() => escapeXml(text as never)).toThrow(new PhalanxConfigError('escapeXml', 'text', 'a string', text));
      expect(() => escapeXml(text as never)).toThrow(`escapeXml: text must be a string, but received ${shown}.`);
    }
  });

  it('applySimilarity names points and transforms it cannot apply', () => {
    const identity = {
      rotation: K.map((_, i) => [0, 1, 2].map((j) => (i === j ? 1 : 0))),
      scale: 1,
      translation: [0, 0, 0],
    };
    expect(applySimilarity(hand, identity)).toEqual(hand);
    expect(() => applySimilarity(null as never, identity)).toThrow(
      new PhalanxShapeError('applySimilarity', 'points', 'points [J][3]', 'null'),
    );
    expect(() => applySimilarity(hand, null as never)).toThrow(
      'applySimilarity: transform must be an object {rotation, scale, translation}, but received null.',
    );
    expect(() => applySimilarity(hand, { ...identity, rotation: [[1, 0, 0]] })).toThrow(
      'applySimilarity: transform.rotation must be a 3×3 matrix [3][3], but received [1, 3].',
    );
    expect(() => applySimilarity(hand, { ...identity, scale: Number.NaN })).toThrow(
      'applySimilarity: transform.scale must be a finite number, but received NaN.',
    );
  });

  it('pckCurveToSvg names a curve that is not one and values that would draw as NaN', () => {
    const thresholds = [0, 1, 2];
    const svg = (curve: unknown) => () => pckCurveToSvg({ thresholds, curves: [curve as never] });
    expect(svg(null)).toThrow(
      'pckCurveToSvg: curves[0] must be a curve {label: string, pck, thresholds?, auc?}, but received null.',
    );
    expect(svg({ pck: [0, 0.5, 1] })).toThrow('pckCurveToSvg: curves[0] must be a curve {label: string');
    expect(svg({ label: 'a', pck: [0, Number.NaN, 1], auc: 0.5 })).toThrow(
      'pckCurveToSvg: curves[0].pck[1] must be a finite number, but received NaN.',
    );
    expect(svg({ label: 'a', pck: [0, 0.5, 1], auc: Number.NaN })).toThrow(
      'pckCurveToSvg: curves[0].auc must be a finite number, but received NaN.',
    );
    expect(svg({ label: 'a', pck: [0, 0.5, 1], thresholds: [0, 1, Infinity], auc: 0.5 })).toThrow(
      'pckCurveToSvg: curves[0].thresholds[2] must be a finite number, but received Infinity.',
    );
  });
});
