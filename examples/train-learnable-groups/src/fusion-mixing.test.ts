import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { createLearnableGroups } from '@phalanx/learnable-groups';
import { useBackend } from '@phalanx/testing';
import { runNodeScript } from '@phalanx/testing/child-process';
import { crossGroupShares, fusionMixing } from './fusion-mixing';
import { MODEL_SIZES } from './pipeline';

const exampleDir = fileURLToPath(new URL('..', import.meta.url));
const shipped = fileURLToPath(new URL('../../../packages/pretrained/models/learnable-groups', import.meta.url));

beforeAll(async () => {
  await useBackend('wasm');
});

describe('crossGroupShares', () => {
  it('weighs each output group’s columns: own block against the rest', () => {
    // Rows: input channels (group 0, group 1); columns: output groups 0 and 1 (C = U = 1).
    expect(crossGroupShares([3, 0, 1, 2], [2, 2], 2)).toEqual([1 - 9 / 10, 0]);
    // C = 2, U = 1, G = 2: output group 0 reads (1, 1) from itself and (1, 1) from group 1; output group 1
    // reads only group 0 (the 5).
    expect(crossGroupShares([1, 5, 1, 0, 1, 0, 1, 0], [4, 2], 2)).toEqual([0.5, 1]);
    // Every weight alike: each group reads (G − 1)/G from the others.
    const shares = crossGroupShares(new Array(36).fill(0.3), [6, 6], 3);
    shares.forEach((s) => expect(s).toBeCloseTo(2 / 3, 12));
    expect(crossGroupShares([0, 1, 0, 1], [2, 2], 2)).toEqual([0, 0.5]);
  });

  it('lies in [0, 1] and does not change when the kernel is scaled', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 4 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 3 }),
        fc.double({ min: 0.01, max: 100, noNaN: true }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        (g, c, u, scale, seed) => {
          const kernel = Array.from(tf.randomNormal([g * c * g * u], 0, 1, 'float32', seed).dataSync());
          const shares = crossGroupShares(kernel, [g * c, g * u], g);
          const scaled = crossGroupShares(
            kernel.map((w) => w * scale),
            [g * c, g * u],
            g,
          );
          expect(shares).toHaveLength(g);
          shares.forEach((s, i) => {
            expect(s).toBeGreaterThanOrEqual(0);
            expect(s).toBeLessThanOrEqual(1);
            expect(scaled[i]).toBeCloseTo(s, 9);
          });
        },
      ),
      { numRuns: 50 },
    );
  });

  it('refuses a kernel that is not [G·C, G·U], a group count below 2 and non-finite weights', () => {
    expect(() => crossGroupShares([1, 2, 3], [2, 2], 2)).toThrow(PhalanxShapeError);
    expect(() => crossGroupShares([1, 2, 3, 4, 5, 6], [3, 2], 2)).toThrow(PhalanxShapeError);
    expect(() => crossGroupShares([], [0, 0], 2)).toThrow(PhalanxShapeError);
    expect(() => crossGroupShares([1, 2, 3, 4], [2, 2], 1)).toThrow(PhalanxConfigError);
    expect(() => crossGroupShares([1, NaN, 3, 4], [2, 2], 2)).toThrow(/finite entries/);
  });
});

describe('fusionMixing', () => {
  it('finds the fusion of a model; at the NDDR initialisation every group reads β²/(G−1) / (α² + β²/(G−1))', () => {
    const model = createLearnableGroups({ ...MODEL_SIZES.tiny, numGroups: 3, fusion: true });
    const [fusion, ...others] = fusionMixing(model);
    expect(others).toEqual([]);
    expect(fusion.layer).toBe('nddr_layer0');
    expect(fusion.numGroups).toBe(3);
    const c = MODEL_SIZES.tiny.planes[1];
    expect(fusion.kernelShape).toEqual([3 * c, 3 * c]);
    const expected = 0.005 / (0.81 + 0.005); // α = 0.9, β = 0.1, G = 3
    expect(fusion.initialShare).toBeCloseTo(expected, 12);
    fusion.shares.forEach((s) => expect(s).toBeCloseTo(expected, 6));
    model.dispose();
  });

  it('is empty for a model without fusion', () => {
    const model = createLearnableGroups({ ...MODEL_SIZES.tiny, numGroups: 3, fusion: false });
    expect(fusionMixing(model)).toEqual([]);
    model.dispose();
  });
});

describe('the fusion-mixing command line', () => {
  it('prints the shares of a saved model and refuses a folder without model.json', async () => {
    const [ok, missing] = await Promise.all([
      runNodeScript({ cwd: exampleDir, script: 'src/fusion-mixing-cli.ts', args: [shipped] }),
      runNodeScript({ cwd: exampleDir, script: 'src/fusion-mixing-cli.ts', args: [exampleDir] }),
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(
      /nddr_layer0 \(G = 3, kernel \[48, 48\]\): cross-group share [\d.]+ % \/ [\d.]+ % \/ [\d.]+ % \(0\.6 % at initialisation\)/,
    );
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no model\.json in /);
  }, 120_000);

  it('a damaged model.json is a one-line named error, a flag a usage error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fusion-mixing-'));
    writeFileSync(join(dir, 'model.json'), '{"modelTopology":');
    const [damaged, flagged] = await Promise.all([
      runNodeScript({ cwd: exampleDir, script: 'src/fusion-mixing-cli.ts', args: [dir] }),
      runNodeScript({ cwd: exampleDir, script: 'src/fusion-mixing-cli.ts', args: ['--bogus', dir] }),
    ]);
    expect([damaged.code, damaged.stderr.trim().split('\n').length]).toEqual([1, 1]);
    expect(damaged.stderr).toMatch(/^PhalanxFileError: .*model\.json: the model cannot be loaded/);
    expect([flagged.code, flagged.stderr.trim().split('\n').length]).toEqual([2, 1]);
    expect(flagged.stderr).toContain('--bogus');
  }, 60_000);
});
