import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type * as tfl from '@tensorflow/tfjs-layers';
import jpeg from 'jpeg-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, encodePng, renderSyntheticHand } from '@phalanx/data';
import { writeSafetensors, writeTorchStateDict, type ConcreteJointSelector } from '@phalanx/layers';
import { exportTorchStateDict, importTorchStateDict } from '@phalanx/learnable-groups';
import {
  estimatorFromModel,
  loadHandPoseEstimator,
  PhalanxDisposedError,
  PhalanxFileError,
  loadHandPoseModel,
  type HandPoseEstimator,
} from '@phalanx/pretrained';
import { makeOutputFolder, predictFiles, type PredictionReport } from './predict';
import { shippedWithTorchWeights } from './weights';

const dir = mkdtempSync(join(tmpdir(), 'phalanx-predict-'));
let estimator: HandPoseEstimator;

/** The shipped Learnable Groups model as its files hold it (batch norms and all). */
function shippedModel(): Promise<tfl.LayersModel> {
  return loadHandPoseModel('learnable-groups');
}

/** A synthetic hand (seed 14, 128 px) cropped to 128 × 96: a non-square picture. */
function picture() {
  const s = renderSyntheticHand(14, { size: 128 });
  const data = new Uint8Array(128 * 96 * 3);
  for (let y = 0; y < 128; y++) data.set(s.image.subarray((y * 128 + 16) * 3, (y * 128 + 112) * 3), y * 96 * 3);
  return { data, width: 96, height: 128 };
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  estimator = await loadHandPoseEstimator('learnable-groups');
  const rgb = picture();
  writeFileSync(join(dir, 'hand.png'), await encodePng(rgb));
  const rgba = new Uint8Array(96 * 128 * 4);
  for (let i = 0; i < 96 * 128; i++) rgba.set([...rgb.data.subarray(3 * i, 3 * i + 3), 255], 4 * i);
  writeFileSync(join(dir, 'hand.jpg'), jpeg.encode({ data: rgba, width: 96, height: 128 }, 95).data);
});

afterAll(() => {
  estimator?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('predict', () => {
  it('runs the estimator on a PNG and a JPEG, writes annotated PNGs, reports keypoints in picture pixels', async () => {
    const out = join(dir, 'out');
    const report = await predictFiles(estimator, [join(dir, 'hand.png'), join(dir, 'hand.jpg')], out);
    expect(report.card.model).toBe('learnable-groups');
    expect(report.images.map((i) => [i.width, i.height, i.annotated])).toEqual([
      [96, 128, 'hand.annotated.png'],
      [96, 128, 'hand.1.annotated.png'],
    ]);
    // The PNG is lossless: its keypoints are exactly those of the estimator on the same pixels.
    const pixels = tf.tensor3d(Int32Array.from(picture().data), [128, 96, 3], 'int32');
    const [direct] = await estimator.estimateHands(pixels);
    pixels.dispose();
    expect(report.images[0].hands[0]).toEqual(direct);
    // With test-time rotations: what the estimator gives with them, and not the single view.
    const turned = await predictFiles(estimator, [join(dir, 'hand.png')], join(dir, 'out4'), { rotations: 4 });
    const again = tf.tensor3d(Int32Array.from(picture().data), [128, 96, 3], 'int32');
    const [four] = await estimator.estimateHands(again, { rotations: 4 });
    again.dispose();
    expect(turned.images[0].hands[0]).toEqual(four);
    expect(four.keypoints).not.toEqual(direct.keypoints);
    // JPEG compression moves them only a little.
    const [png, jpg] = report.images.map((i) => i.hands[0].keypoints);
    expect(Math.max(...png.map((k, j) => Math.hypot(k.x - jpg[j].x, k.y - jpg[j].y)))).toBeLessThan(3);
    // The annotated picture has the input's size and the skeleton drawn at the keypoints.
    const annotated = await decodeImage(new Uint8Array(readFileSync(join(out, 'hand.annotated.png'))));
    expect([annotated.width, annotated.height]).toEqual([96, 128]);
    const original = picture().data;
    const changed = png.filter((k) => {
      const [x, y] = [Math.round(k.x), Math.round(k.y)];
      if (x < 0 || y < 0 || x >= 96 || y >= 128) return false;
      const o = 3 * (y * 96 + x);
      return [0, 1, 2].some((c) => annotated.data[o + c] !== original[o + c]);
    });
    expect(changed.length).toBeGreaterThanOrEqual(
      png.filter((k) => k.x >= 0 && k.y >= 0 && k.x < 95.5 && k.y < 127.5).length,
    );
  });

  it('pictures of one name get annotated files of their own, never one another file also takes', async () => {
    mkdirSync(join(dir, 'x'), { recursive: true });
    mkdirSync(join(dir, 'y'), { recursive: true });
    for (const file of ['x/a.png', 'y/a.png', 'a.1.png', 'a.2.png'])
      copyFileSync(join(dir, 'hand.png'), join(dir, file));
    const cases: [string[], string[]][] = [
      // The second a.png must not take a.2.png's name (as a.<index>), nor the third the second's.
      [
        ['x/a.png', 'a.2.png', 'y/a.png'],
        ['a.annotated.png', 'a.2.annotated.png', 'a.3.annotated.png'],
      ],
      // The renamed second a.png must not take the name a.1.png, later in the list, gets.
      [
        ['x/a.png', 'y/a.png', 'a.1.png'],
        ['a.annotated.png', 'a.2.annotated.png', 'a.1.annotated.png'],
      ],
    ];
    for (const [i, [files, names]] of cases.entries()) {
      const out = join(dir, `same-name-${i}`);
      const report = await predictFiles(
        estimator,
        files.map((f) => join(dir, f)),
        out,
      );
      expect(report.images.map((image) => image.annotated)).toEqual(names);
      expect(readdirSync(out).sort()).toEqual([...names].sort());
    }
  });

  it('the CLI writes keypoints.json and the annotated pictures', async () => {
    const root = fileURLToPath(new URL('..', import.meta.url));
    const out = join(dir, 'cli');
    const { stdout } = await promisify(execFile)(
      'node',
      ['--import', 'tsx', 'src/main.ts', '--backend', 'cpu', '--out', out, join(dir, 'hand.png')],
      { cwd: root, encoding: 'utf8' },
    );
    expect(stdout).toMatch(/wrote .*keypoints\.json \(learnable-groups on cpu\)/);
    const report = JSON.parse(readFileSync(join(out, 'keypoints.json'), 'utf8')) as PredictionReport;
    expect(report.images).toHaveLength(1);
    expect(report.images[0].hands[0].keypoints).toHaveLength(21);
    expect(report.images[0].hands[0].keypoints3D[0]).toEqual({ x: 0, y: 0, z: 0, name: 'wrist' });
    expect(readFileSync(join(out, 'hand.annotated.png')).subarray(1, 4).toString()).toBe('PNG');
  });
});

describe('predict: files that are not pictures', () => {
  it('a directory, a missing file, an empty file: named errors that name the file; nothing leaks', async () => {
    writeFileSync(join(dir, 'empty.png'), new Uint8Array(0));
    const cases: [string, RegExp][] = [
      [dir, new RegExp(`^${dir}: file cannot be read: EISDIR`)],
      [join(dir, 'missing.png'), new RegExp(`^${join(dir, 'missing.png')}: file cannot be read: ENOENT`)],
      [join(dir, 'empty.png'), /empty\.png: image data is neither PNG nor JPEG/],
    ];
    for (const [file, message] of cases) {
      const count = tf.memory().numTensors;
      await expect(predictFiles(estimator, [file], join(dir, 'bad'))).rejects.toThrow(PhalanxFileError);
      await expect(predictFiles(estimator, [file], join(dir, 'bad'))).rejects.toThrow(message);
      expect(tf.memory().numTensors).toBe(count);
    }
  });

  it('an estimator that fails leaves no picture tensor behind', async () => {
    const disposed = await loadHandPoseEstimator('learnable-groups');
    disposed.dispose();
    const count = tf.memory().numTensors;
    await expect(predictFiles(disposed, [join(dir, 'hand.png')], join(dir, 'bad'))).rejects.toThrow(
      PhalanxDisposedError,
    );
    expect(tf.memory().numTensors).toBe(count);
  });

  it('the CLI exits with 1 and names the file for a directory given as a picture or as --weights', async () => {
    const root = fileURLToPath(new URL('..', import.meta.url));
    for (const args of [[dir], ['--weights', dir, join(dir, 'hand.png')]]) {
      const run = promisify(execFile)(
        'node',
        ['--import', 'tsx', 'src/main.ts', '--backend', 'cpu', '--out', join(dir, 'cli-bad'), ...args],
        {
          cwd: root,
          encoding: 'utf8',
        },
      );
      const failure = (await run.then(
        () => undefined,
        (e: unknown) => e,
      )) as { code: number; stderr: string };
      expect(failure.code).toBe(1);
      expect(failure.stderr.trim().split('\n').at(-1)).toBe(
        `${dir}: file cannot be read: EISDIR: illegal operation on a directory, read`,
      );
    }
  });
});

describe('predict: an output folder that cannot be made', () => {
  /** An --out whose parent is a file. */
  function underAFile(): string {
    writeFileSync(join(dir, 'plain-file'), 'not a folder');
    return join(dir, 'plain-file', 'out');
  }
  const prefix = (out: string) => `${out}: output folder (--out) cannot be created: `;

  it('predictFiles: a named error naming the folder as --out; an existing folder is fine', async () => {
    const out = underAFile();
    const error = (await predictFiles(estimator, [join(dir, 'hand.png')], out).then(
      () => undefined,
      (e: unknown) => e,
    )) as Error;
    expect(error).toBeInstanceOf(PhalanxFileError);
    expect(error.message.slice(0, prefix(out).length)).toBe(prefix(out));
    expect(error.message).toMatch(/ENOTDIR/);
    await makeOutputFolder(join(dir, 'made', 'a', 'b'));
    await makeOutputFolder(join(dir, 'made', 'a', 'b'));
    expect(readdirSync(join(dir, 'made', 'a'))).toEqual(['b']);
  }, 30_000);

  it('the CLI exits with 1 naming the folder, promptly, also under /proc (as root on Linux)', async () => {
    const root = fileURLToPath(new URL('..', import.meta.url));
    const outs = [underAFile()];
    // Node 20's recursive mkdir never returns under /proc (ENOENT for every new entry); only root gets that far.
    if (process.platform === 'linux' && process.getuid?.() === 0) outs.push('/proc/phalanx-predict-test/out');
    for (const out of outs) {
      const failure = (await promisify(execFile)(
        'node',
        ['--import', 'tsx', 'src/main.ts', '--backend', 'cpu', '--out', out, join(dir, 'hand.png')],
        { cwd: root, encoding: 'utf8', timeout: 60_000 },
      ).then(
        () => undefined,
        (e: unknown) => e,
      )) as { code: number | null; signal: string | null; stderr: string };
      expect(failure.signal, `${out}: killed by the time-out`).toBeNull();
      expect(failure.code, out).toBe(1);
      const last = failure.stderr.trim().split('\n').at(-1) ?? '';
      expect(last.slice(0, prefix(out).length)).toBe(prefix(out));
    }
  }, 150_000);
});

describe('predict: command-line mistakes', () => {
  it('an unknown option, model or backend, or bad rotations exit with 2 (a usage error) and print the usage, loading nothing', async () => {
    const root = fileURLToPath(new URL('..', import.meta.url));
    for (const [args, message] of [
      [['--bogus', 'x.png'], "Unknown option '--bogus'"],
      [['--model', 'mediapipe', 'x.png'], '--model must be one of learnable-groups, ehpe'],
      [['--flip=yes', 'x.png'], "Option '--flip' does not take an argument"],
      [['--rotations', '3', 'x.png'], '--rotations must be one of 1, 2, 4'],
      // Number('0x2') is 2: only decimal digits are a number of rotations.
      [['--rotations', '0x2', 'x.png'], '--rotations must be one of 1, 2, 4'],
      [['--backend', 'webgl', 'x.png'], '--backend must be one of wasm, cpu'],
      [['--backend', 'foo', 'x.png'], '--backend must be one of wasm, cpu'],
    ] as const) {
      const failure = (await promisify(execFile)('node', ['--import', 'tsx', 'src/main.ts', ...args], {
        cwd: root,
        encoding: 'utf8',
      }).then(
        () => undefined,
        (e: unknown) => e,
      )) as { code: number; stderr: string; stdout: string };
      expect(failure.code, args.join(' ')).toBe(2);
      expect(failure.stderr).toContain(message);
      expect(failure.stderr).toContain('Usage: predict');
    }
  });
});

describe('--weights: a PyTorch state_dict instead of the shipped weights', () => {
  /**
   * Other weights in PyTorch names and layouts: the shipped ones exported, each float parameter scaled by a
   * seeded factor in [0.8, 1.2] (the SoftHeatmap grids `wx` / `wy` stay the pixel grid the import checks).
   */
  async function otherWeights(): Promise<Record<string, tf.Tensor>> {
    // From the shipped model as loaded: the estimator's own model has its batch norms folded away.
    const shipped = await shippedModel();
    const exported = exportTorchStateDict(shipped);
    shipped.dispose();
    const out: Record<string, tf.Tensor> = {};
    Object.entries(exported).forEach(([key, t], i) => {
      if (t.dtype !== 'float32' || /\.w[xy]$/.test(key)) out[key] = t;
      else {
        out[key] = tf.tidy(() => tf.mul(t, tf.randomUniform(t.shape, 0.8, 1.2, 'float32', i)));
        t.dispose();
      }
    });
    return out;
  }

  it('a .pth gives what its weights give; the card drops the shipped evaluation', async () => {
    const weights = await otherWeights();
    const bytes = writeTorchStateDict(weights);
    const fromPth = await shippedWithTorchWeights('learnable-groups', bytes, 'other.pth');
    // Reference: the shipped model with the same tensors written in place (no file in between).
    const model = await shippedModel();
    importTorchStateDict(model, weights);
    const reference = estimatorFromModel('learnable-groups', model);
    tf.dispose(Object.values(weights));
    const pixels = tf.tensor3d(Int32Array.from(picture().data), [128, 96, 3], 'int32');
    const [got] = await fromPth.estimateHands(pixels);
    const [expected] = await reference.estimateHands(pixels);
    const [shipped] = await estimator.estimateHands(pixels);
    pixels.dispose();
    const gap = (a: typeof got, b: typeof got) =>
      Math.max(...a.keypoints.map((k, j) => Math.hypot(k.x - b.keypoints[j].x, k.y - b.keypoints[j].y)));
    expect(gap(got, expected)).toBeLessThan(1e-4);
    expect(gap(got, shipped)).toBeGreaterThan(0.01);
    expect(fromPth.card.model).toBe('learnable-groups');
    expect(fromPth.card.depth).toEqual(estimator.card.depth);
    expect(fromPth.card.evaluation).toBeUndefined();
    expect(fromPth.card.training).toBeUndefined();
    fromPth.dispose();
    reference.dispose();
  });

  it("a .safetensors file's Temperature metadata becomes the selector's temperature", async () => {
    const weights = await otherWeights();
    const bytes = writeSafetensors(weights, { Temperature: '0.375' });
    tf.dispose(Object.values(weights));
    const withTemperature = await shippedWithTorchWeights('learnable-groups', bytes, 'other.safetensors');
    const selector = withTemperature.model.getLayer('meta_S') as ConcreteJointSelector;
    expect(selector.getTemperature()).toBeCloseTo(0.375, 6);
    // Not the shipped model's own temperature (else the check would prove nothing).
    expect((estimator.model.getLayer('meta_S') as ConcreteJointSelector).getTemperature()).not.toBeCloseTo(0.375, 3);
    withTemperature.dispose();
  });

  it('a checkpoint of another network is a named error that leaves no tensor behind', async () => {
    const weights = await otherWeights();
    const bytes = writeSafetensors(weights);
    tf.dispose(Object.values(weights));
    const count = tf.memory().numTensors;
    await expect(shippedWithTorchWeights('ehpe', bytes, 'lg.safetensors')).rejects.toThrow(/^loadTorchStateDict: /);
    expect(tf.memory().numTensors).toBe(count);
  });
});
