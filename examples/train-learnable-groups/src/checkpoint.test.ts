import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { readSafetensors, writeTorchStateDict } from '@phalanx/layers';
import { createLearnableGroups, importTorchStateDict, type LearnableGroupsConfig } from '@phalanx/learnable-groups';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initFromCheckpoint, readCheckpoint } from './checkpoint';

/** The reduced official network of the learnable-groups package's fixture (PyTorch names, weights). */
const FIXTURE = new URL('../../../packages/learnable-groups/test/fixtures/lg-reduced/', import.meta.url);
const config = (JSON.parse(readFileSync(new URL('case.json', FIXTURE), 'utf8')) as { config: LearnableGroupsConfig })
  .config;
const tmp = mkdtempSync(join(tmpdir(), 'phalanx-lg-init-'));
/** The fixture's weights written as a .pth by writeTorchStateDict. */
const pth = join(tmp, 'reduced.pth');

beforeAll(async () => {
  await tf.setBackend('cpu');
  const tensors = readSafetensors(readFileSync(new URL('weights.safetensors', FIXTURE)));
  writeFileSync(pth, writeTorchStateDict(tensors));
  tf.dispose(Object.values(tensors));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('--init FILE', () => {
  it('loads a .pth exactly as the same weights from safetensors', () => {
    const tensors = readSafetensors(readFileSync(new URL('weights.safetensors', FIXTURE)));
    const viaSafetensors = createLearnableGroups({ ...config, seed: 1 });
    importTorchStateDict(viaSafetensors, tensors);
    tf.dispose(Object.values(tensors));

    const viaPth = createLearnableGroups({ ...config, seed: 2 });
    const before = tf.memory().numTensors;
    const report = initFromCheckpoint(viaPth, pth);
    expect(tf.memory().numTensors).toBe(before);
    expect(report.loaded).toBeGreaterThan(900);
    const a = viaSafetensors.getWeights();
    const b = viaPth.getWeights();
    expect(b.length).toBe(a.length);
    a.forEach((w, i) => expect(Array.from(b[i].dataSync())).toEqual(Array.from(w.dataSync())));
    viaSafetensors.dispose();
    viaPth.dispose();
  });

  it('reads the temperature stored beside model_state_dict, as the release does', () => {
    // A training checkpoint made by PyTorch: {'epoch', 'Temperature': 0.5, 'model_state_dict', …}.
    const nested = new URL('../../../packages/layers/test/fixtures/pth/nested.pth', import.meta.url);
    const ckpt = readCheckpoint(new Uint8Array(readFileSync(nested)), 'nested.pth');
    expect(ckpt.temperature).toBe(0.5);
    expect(Object.keys(ckpt.tensors)).toContain('conv.weight');
    tf.dispose(Object.values(ckpt.tensors));
  });

  it('names the keys of a checkpoint made for another configuration', () => {
    const model = createLearnableGroups({ ...config, numGroups: 2 });
    let error: Error | undefined;
    try {
      initFromCheckpoint(model, pth);
    } catch (e) {
      error = e as Error;
    }
    // A strict import error (shape or keys), named, before any weight is written.
    expect(error?.name).toMatch(/^Phalanx(Config|Shape)Error$/);
    expect(error?.message).toMatch(/nddr_layer0|meta_S\.weight/);
    model.dispose();
  });
});
