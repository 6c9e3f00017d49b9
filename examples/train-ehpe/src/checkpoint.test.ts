import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { createTwStage, importTorchStateDict, type TwStageConfig } from '@phalanx/ehpe';
import { readSafetensors, writeTorchStateDict } from '@phalanx/layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initFromCheckpoint, readCheckpoint } from './checkpoint';

/** The reduced official TW-stage of the ehpe package's fixture (PyTorch names, weights). */
const FIXTURE = new URL('../../../packages/ehpe/test/fixtures/ehpe-reduced/', import.meta.url);
const twCase = JSON.parse(readFileSync(new URL('tw_stage.json', FIXTURE), 'utf8')) as {
  config: TwStageConfig;
  featuresNHWC: { shape: number[] };
};
const config = { ...twCase.config, featureSize: twCase.featuresNHWC.shape[1] };
const tmp = mkdtempSync(join(tmpdir(), 'phalanx-ehpe-init-'));
const pth = join(tmp, 'tw_stage.pth');

beforeAll(async () => {
  await tf.setBackend('cpu');
  const tensors = readSafetensors(readFileSync(new URL('tw_stage.safetensors', FIXTURE)));
  writeFileSync(pth, writeTorchStateDict(tensors));
  tf.dispose(Object.values(tensors));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('--init FILE', () => {
  it('reads a .pth to the same tensors as the safetensors file it was written from', () => {
    const a = readSafetensors(readFileSync(new URL('tw_stage.safetensors', FIXTURE)));
    const b = readCheckpoint(new Uint8Array(readFileSync(pth)), pth);
    expect(Object.keys(b)).toEqual(Object.keys(a));
    for (const k of Object.keys(a)) expect(Array.from(b[k].dataSync())).toEqual(Array.from(a[k].dataSync()));
    tf.dispose([...Object.values(a), ...Object.values(b)]);
  });

  it('loads a .pth into the network exactly as the same weights from safetensors, leaking nothing', () => {
    const viaSafetensors = createTwStage(config);
    const tensors = readSafetensors(readFileSync(new URL('tw_stage.safetensors', FIXTURE)));
    importTorchStateDict(viaSafetensors, tensors);
    tf.dispose(Object.values(tensors));
    const viaPth = createTwStage(config);
    const before = tf.memory().numTensors;
    expect(initFromCheckpoint(viaPth, pth)).toBeGreaterThan(50);
    expect(tf.memory().numTensors).toBe(before);
    const w = viaSafetensors.getWeights();
    viaPth.getWeights().forEach((t, i) => expect(Array.from(t.dataSync())).toEqual(Array.from(w[i].dataSync())));
    viaSafetensors.dispose();
    viaPth.dispose();
  });
});
