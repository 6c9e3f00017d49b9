import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import jpeg from 'jpeg-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, encodePng, renderSyntheticHand } from '@phalanx/data';
import { loadHandPoseEstimator, type HandPoseEstimator } from '@phalanx/pretrained';
import { predictFiles, type PredictionReport } from './predict';

const dir = mkdtempSync(join(tmpdir(), 'phalanx-predict-'));
let estimator: HandPoseEstimator;

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
