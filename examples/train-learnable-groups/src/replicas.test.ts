import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@phalanx/testing';
import { buildModel, MODEL_SIZES, type JobConfig } from './pipeline';
import { replicasFlag, trainWithReplicas } from './replicas-main';
import { availableParallelism } from 'node:os';

const config: JobConfig = {
  model: MODEL_SIZES.tiny,
  steps: 2,
  batchSize: 4,
  lr: { selector: 1e-1, fusion: 1e-2, rest: 1e-2 },
  temperatureEvery: 10,
  zWeight: 1,
  dataSeed: 1,
};

beforeAll(async () => {
  await useBackend('wasm');
});

describe('--replicas', () => {
  it("defaults to the preset's count capped by the cores, and to 1 when that does not divide the batch", () => {
    const cores = availableParallelism();
    expect(replicasFlag(undefined, 32, 2)).toBe(Math.min(2, cores));
    expect(replicasFlag(undefined, 32, 1)).toBe(1);
    expect(replicasFlag(undefined, 7, 2)).toBe(1); // 7 is odd: no split of the batch
    expect(replicasFlag('4', 32, 2)).toBe(4);
    expect(() => replicasFlag('3', 32, 2)).toThrow(/divides the batch size 32/);
    expect(() => replicasFlag('0', 32, 2)).toThrow(/integer ≥ 1/);
  });

  it("2 replicas start from the main thread's weights, stay in step (same digest) and replica 0 hands back its weights", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lg-replicas-'));
    try {
      const model = buildModel(config);
      const initial = model.weights.map((w) => w.read().dataSync().slice());
      const result = await trainWithReplicas(model, config, 2, {
        steps: 2,
        checkpointDir: join(dir, 'checkpoints'),
        checkpointEvery: 2,
        logFile: join(dir, 'log.jsonl'),
        evalEvery: 2,
        dataWorkers: 0,
        test: { size: 64, count: 4, batchSize: 4, seed: 90210 },
      });
      expect(result).toMatchObject({ step: 2, interrupted: false });
      const after = model.weights.map((w) => w.read().dataSync());
      expect(after.every((w) => w.every(Number.isFinite))).toBe(true);
      expect(after.some((w, k) => w.some((v, i) => v !== initial[k][i]))).toBe(true);
      const log = readFileSync(join(dir, 'log.jsonl'), 'utf8');
      expect(log).toContain('"epe2dPx"');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
