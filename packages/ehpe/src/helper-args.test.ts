import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { thrownBy, useBackend } from '@phalanx/testing';
import { PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import {
  createEhpe,
  createPgOnly,
  Init21Layout,
  init21FromTipsAndWrist,
  initialLayout,
  initialLayoutMatrix,
  spiBlock,
  variantJoints,
  type InitialLayoutOptions,
} from './index';
import { TINY_EHPE } from './tiny.fixture';

beforeAll(() => useBackend('cpu'));

describe('exported helpers: null, misspelt and non-tensor arguments are named', () => {
  it('spiBlock, the layout helpers and init21FromTipsAndWrist', () => {
    const nodes = tfl.input({ shape: [21, 8] });
    const tw = tf.zeros([2, 6, 3]);
    const W = [0, 4, 8, 12, 16, 20];
    const cases: [() => unknown, string, typeof PhalanxConfigError | typeof PhalanxShapeError][] = [
      [
        () => spiBlock(nodes, null as never),
        'spiBlock: options must be an options object {dim, heads?, attention?, attentionDropout?, dropoutSeed?, ' +
          'name}, but received null.',
        PhalanxConfigError,
      ],
      [
        () => spiBlock(nodes, { dim: 8, head: 2, name: 'pg.spi' } as never),
        'spiBlock: options.head must be an option (one of dim, heads, attention, attentionDropout, dropoutSeed, ' +
          'name), but received 2.',
        PhalanxConfigError,
      ],
      [
        () => initialLayoutMatrix(W, null as never),
        'Init21Layout: options must be an options object {fingerRatios?, thumbRatios?, lateralOffsets?}, but ' +
          'received null.',
        PhalanxConfigError,
      ],
      [
        () => initialLayoutMatrix(W, { fingerRatio: [0.1, 0.2, 0.3] } as never),
        'Init21Layout: options.fingerRatio must be an option (one of fingerRatios, thumbRatios, lateralOffsets), ' +
          'but received [0.1, 0.2, 0.3].',
        PhalanxConfigError,
      ],
      [
        () => initialLayout(tw, W, { xyScale: Number.NaN }),
        'initialLayout: xyScale must be a finite number, but received NaN.',
        PhalanxConfigError,
      ],
      [
        () => initialLayout(tw, W, { xyscale: 2 } as never),
        'initialLayout: options.xyscale must be an option (one of fingerRatios, thumbRatios, lateralOffsets, ' +
          'xyScale), but received 2.',
        PhalanxConfigError,
      ],
      [
        () => initialLayout(null as never, W),
        'initialLayout: tw must be a [B, 6, 3] tensor, but received null.',
        PhalanxShapeError,
      ],
      [
        () => init21FromTipsAndWrist(null as never, tf.zeros([1, 5, 3])),
        'init21FromTipsAndWrist: wrist must be a [B, 3] tensor, but received null.',
        PhalanxShapeError,
      ],
      [
        () => init21FromTipsAndWrist(tf.zeros([1, 3]), [[0, 0, 0]] as never),
        'init21FromTipsAndWrist: tips must be a [B = 1, 5, 3] tensor, but received [[0, 0, 0]].',
        PhalanxShapeError,
      ],
    ];
    for (const [run, message, errorClass] of cases) {
      const error = thrownBy(run);
      expect(error, message).toBeInstanceOf(errorClass);
      expect((error as Error).message).toBe(message);
    }
    // Valid arguments still work.
    expect(initialLayout(tw, W, { xyScale: 2, lateralOffsets: [1, 2, 3, 4, 5] }).shape).toEqual([2, 21, 3]);
    expect(spiBlock(nodes, { dim: 8, heads: 2, name: 'pg.spi' }).output.shape).toEqual([null, 21, 8]);
  });
});

describe('spiBlock input width', () => {
  it('refuses, when it is built, a dim other than the width of its input nodes', () => {
    const nodes = tfl.input({ shape: [21, 8] });
    for (const dim of [16, 4]) {
      const error = thrownBy(() => spiBlock(nodes, { dim, heads: 2, name: 'pg.spi' }));
      expect(error).toBeInstanceOf(PhalanxShapeError);
      expect((error as Error).message).toBe(
        `spiBlock: h0 must be [B, 21, ${dim}] (options.dim is the input and output width), but received [null, 21, 8].`,
      );
    }
    expect(thrownBy(() => spiBlock(tf.zeros([1, 21, 8]) as never, { dim: 8, name: 'pg.spi' }))).toBeInstanceOf(
      PhalanxShapeError,
    );
    expect(spiBlock(nodes, { dim: 8, heads: 2, name: 'pg.spi' }).output.shape).toEqual([null, 21, 8]);
  });
});

describe('initial layout ratios', () => {
  it('ratios that put two known chain joints at one position are refused, not NaN joints', () => {
    const wm = variantJoints('W+M'); // wrist and MCPs known: PIP, DIP, tip extrapolated from t(wrist) = 0, t(MCP)
    const zeroMcp: InitialLayoutOptions = { fingerRatios: [0, 0.6, 0.8], thumbRatios: [0, 0.6, 0.8] };
    const message = (component: string) =>
      `${component}: thumbRatios must be positions that tell apart the two known joints a missing joint is ` +
      'placed from (t = 0 twice: joints 0 and 1), but received [0, 0.6, 0.8].';
    expect(() => initialLayoutMatrix(wm, { ...zeroMcp })).toThrow(message('Init21Layout'));
    expect(() => new Init21Layout({ tipWristJoints: wm, ...zeroMcp })).toThrow(message('Init21Layout'));
    const before = tf.memory().numTensors;
    const error = thrownBy(() => createEhpe({ ...TINY_EHPE, tipWristJoints: wm, ...zeroMcp }));
    expect(error).toBeInstanceOf(PhalanxConfigError);
    expect((error as Error).message).toBe(message('createEhpe'));
    expect(tf.memory().numTensors).toBe(before);
    // Equal ratios are fine where no joint is placed from them: W+T interpolates wrist → tip only.
    const { matrix } = initialLayoutMatrix(variantJoints('W+T'), { fingerRatios: [0.5, 0.5, 0.5] });
    expect(matrix.flat().every(Number.isFinite)).toBe(true);
    const fine = initialLayoutMatrix(wm, { fingerRatios: [0.2, 0.6, 0.8], thumbRatios: [0.3, 0.6, 0.8] });
    expect(fine.matrix.flat().every(Number.isFinite)).toBe(true);
  });
});

describe('initial layout numbers', () => {
  it('ratios, offsets and xyScale beyond float32 are refused, not infinite joints', () => {
    const tw = tf.ones([1, 6, 3]);
    const cases: [() => unknown, string][] = [
      [
        () => initialLayout(tw, [0, 4, 8, 12, 16, 20], { lateralOffsets: [1e39, 0, 0, 0, 0] }),
        'Init21Layout: lateralOffsets must be a number representable in float32 (|x| ≤ 3.4028235e38), but received 1e+39.',
      ],
      [
        () => new Init21Layout({ fingerRatios: [0.2, 0.5, -1e39] }),
        'Init21Layout: fingerRatios must be a number representable in float32 (|x| ≤ 3.4028235e38), but received -1e+39.',
      ],
      [
        () => new Init21Layout({ xyScale: 1e39 }),
        'Init21Layout: xyScale must be a number representable in float32 (|x| ≤ 3.4028235e38), but received 1e+39.',
      ],
      [
        () => initialLayout(tw, [0, 4, 8, 12, 16, 20], { xyScale: -1e39 }),
        'initialLayout: xyScale must be a number representable in float32 (|x| ≤ 3.4028235e38), but received -1e+39.',
      ],
      [
        () => createEhpe({ ...TINY_EHPE, thumbRatios: [0.3, 0.6, 1e39] }),
        'createEhpe: thumbRatios must be a number representable in float32 (|x| ≤ 3.4028235e38), but received 1e+39.',
      ],
    ];
    for (const [run, message] of cases) {
      const before = tf.memory().numTensors;
      const error = thrownBy(run);
      expect(error, message).toBeInstanceOf(PhalanxConfigError);
      expect((error as Error).message).toBe(message);
      expect(tf.memory().numTensors, message).toBe(before);
    }
    tw.dispose();
  });
});

describe('createEhpe backbone options', () => {
  it('a backbone name, which createEhpe ignored, is refused by name', () => {
    for (const build of [createEhpe, createPgOnly]) {
      const before = tf.memory().numTensors;
      expect(() => build({ ...TINY_EHPE, backbone: { ...TINY_EHPE.backbone, name: 'encoder' } as never })).toThrow(
        "createEhpe: backbone.name must be absent (the backbone's layers are always named backbone.*), but received 'encoder'.",
      );
      expect(tf.memory().numTensors).toBe(before);
    }
  });
});
