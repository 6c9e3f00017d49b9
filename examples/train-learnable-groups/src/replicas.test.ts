import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@phalanx/testing';
import { buildModel, MODEL_SIZES, type JobConfig } from './pipeline';
import { availableParallelism } from 'node:os';
import { replicasFlag, trainWithReplicas } from './replicas-main';
import { runMain } from './run-main';

const config: JobConfig = {
  model: MODEL_SIZES.tiny,
  steps: 2,
  batchSize: 4,
  lr: { selector: 1e-1, fusion: 1e-2, rest: 1e-2 },
  temperatureEvery: 10,
  zWeight: 1,
  dataSeed: 1,
};

/** What `trainWithReplicas` needs besides the config: 2 steps, held-out evaluation at the end. */
function job(dir: string, steps = 2, dataWorkers = 0) {
  return {
    steps,
    checkpointDir: join(dir, 'checkpoints'),
    checkpointEvery: 100,
    logFile: join(dir, 'log.jsonl'),
    evalEvery: 100,
    dataWorkers,
    test: { size: 64, count: 4, batchSize: 4, seed: 90210 },
  };
}

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

  it('replicas rendering only their shards (data workers) train the weights of replicas sharding whole batches', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lg-replicas-shards-'));
    try {
      const whole = buildModel(config);
      const shards = buildModel(config);
      shards.setWeights(whole.getWeights());
      await trainWithReplicas(whole, config, 2, job(join(dir, 'whole'), 2, 0));
      await trainWithReplicas(shards, config, 2, job(join(dir, 'shards'), 2, 1));
      shards.weights.forEach((w, k) =>
        expect(w.read().dataSync(), w.originalName).toEqual(whole.weights[k].read().dataSync()),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a replica run stopped after step 1 and resumed ends with the weights of an uninterrupted run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lg-replicas-resume-'));
    try {
      const straight = buildModel(config);
      const model = buildModel(config);
      model.setWeights(straight.getWeights()); // the same start (the initialisers are not seeded)
      expect(await trainWithReplicas(straight, config, 2, job(join(dir, 'straight')))).toMatchObject({ step: 2 });
      // Aborted before the start: the first gradient exchange stops both replicas after step 1.
      const stopped = await trainWithReplicas(model, config, 2, job(join(dir, 'split')), {
        signal: AbortSignal.abort(),
      });
      expect(stopped).toEqual({
        step: 1,
        interrupted: true,
        checkpoint: join(dir, 'split', 'checkpoints', 'step-00000001'),
      });
      const resumed = await trainWithReplicas(model, config, 2, job(join(dir, 'split')), { resume: true });
      expect(resumed).toMatchObject({ step: 2, interrupted: false });
      // Weights (and the Adam state, step, data position and selector noise behind them) continue bit for
      // bit; the batch-norm moving statistics, averaged over the replicas at the interrupt in the split run
      // only, agree up to float rounding.
      model.weights.forEach((w, k) => {
        const got = w.read().dataSync();
        const want = straight.weights[k].read().dataSync();
        if (!/moving_/.test(w.originalName)) expect(got, w.originalName).toEqual(want);
        else
          got.forEach((v, i) =>
            expect(Math.abs(v - want[i]), w.originalName).toBeLessThan(1e-5 * (1 + Math.abs(want[i]))),
          );
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--replicas 2: Ctrl-C stops both replicas, checkpoints and exits 130; --resume finishes the run', async () => {
    const out = mkdtempSync(join(tmpdir(), 'lg-replicas-kill-'));
    try {
      const common = ['--batch', '2', '--test-size', '4', '--replicas', '2', '--data-workers', '0', '--out', out];
      let sent = false;
      const first = await runMain([...common, '--steps', '6', '--checkpoint-every', '100'], (line, interrupt) => {
        if (!sent && /^step\s+1\//.test(line)) {
          sent = true;
          interrupt();
        }
      });
      expect(first.stdout).toMatch(/training on 2 data-parallel replicas/);
      expect(first.stdout).toMatch(/interrupted at step \d+; checkpoint .*step-\d+\. Continue with --resume\./);
      expect(first.code, first.stderr).toBe(130);
      expect(readdirSync(join(out, 'checkpoints')).filter((d) => d.startsWith('step-')).length).toBe(1);

      const second = await runMain([...common, '--steps', '6', '--resume']);
      expect(second.stdout).toMatch(/resumed from .* at step \d+/);
      expect(second.stdout).toMatch(/after 6 steps/);
      expect(second.code, second.stderr).toBe(0); // and it ended by itself: no worker kept it alive
      expect(existsSync(join(out, 'metrics.json'))).toBe(true);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
