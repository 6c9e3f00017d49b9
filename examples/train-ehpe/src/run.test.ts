import '@phalanx/wasm-training';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disposeBatch } from '@phalanx/data';
import { PhalanxConfigError, PhalanxFileError } from '@phalanx/errors';
import { useBackend } from '@phalanx/testing';
import type { TrainerCallbacks } from '@phalanx/train';
import { MODEL_SIZES, type JobConfig } from './pipeline';
import { readStageLog, runCurveSvg } from './report';
import { runRecord, runStages, type RunOptions, type RunResult, type StageName } from './run';
import { tinyRun } from './tiny-job';

const config: JobConfig = {
  // Dropout 0.1, as the demo: its masks are seeded from `seed`, so resumes are exact with it too.
  model: { ...MODEL_SIZES.tiny, lateralOffsets: [0, 0, 0, 0, 0], dropout: 0.1 },
  variant: 'W+T',
  stepsTw: 3,
  stepsPg: 3,
  batchSize: 2,
  lrTw: 3e-3,
  lrPg: 3e-3,
  depthRange: 200,
  dataSeed: 1,
  handCrop: false,
  schedule: { warmup: 1, decay: 'cosine' },
  seed: 5,
};

const root = mkdtempSync(join(tmpdir(), 'phalanx-ehpe-run-'));
const options = (out: string, extra: Partial<RunOptions> = {}): RunOptions =>
  tinyRun(config, out, { log: () => {}, ...extra });

beforeAll(async () => {
  await useBackend('wasm');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function dispose(r: RunResult): void {
  r.model.dispose();
  r.pgOnly?.dispose();
  r.layout.dispose();
  r.test.forEach(disposeBatch);
}

/** A callback that acts in `stage` after step `step`: a clean stop (as Ctrl-C) or a crash (as a kill). */
function at(stage: StageName, step: number, action: 'stop' | 'crash') {
  return (s: StageName): TrainerCallbacks[] =>
    s !== stage
      ? []
      : [
          {
            onStepEnd: (info, trainer) => {
              if (info.step !== step) return;
              if (action === 'crash') throw new Error(`simulated kill after ${stage} step ${step}`);
              trainer.stop();
            },
          },
        ];
}

const weightsOf = (m: tfl.LayersModel) => m.weights.map((w) => ({ name: w.originalName, values: w.read().dataSync() }));

describe('train-ehpe run: checkpoints, resume, run record, logs', () => {
  it('stopped in stage 1, killed in stage 2, resumed twice: the same weights as an uninterrupted run, bit for bit', async () => {
    const a = await runStages(options(join(root, 'a')));
    expect(a.interruptedIn).toBeNull();
    const reference = { full: weightsOf(a.model), pgOnly: weightsOf(a.pgOnly!) };
    dispose(a);

    const dir = join(root, 'b');
    // A clean stop after step 1 of stage 1: an interrupt checkpoint at step 1.
    const b1 = await runStages(options(dir, { callbacks: at('tw', 1, 'stop') }));
    expect([b1.interruptedIn, b1.stages.tw?.step]).toEqual(['tw', 1]);
    dispose(b1);
    // A crash after step 3 of stage 2 (no checkpoint for it): stage 2 must go back to its step-2 checkpoint.
    await expect(runStages(options(dir, { resume: true, callbacks: at('pg', 3, 'crash') }))).rejects.toThrow(
      'simulated kill after pg step 3',
    );
    const b3 = await runStages(options(dir, { resume: true }));
    expect(b3.interruptedIn).toBeNull();
    expect(b3.stages.tw).toMatchObject({ restored: true, step: 3 });
    expect(b3.stages.pg).toMatchObject({ restored: false, step: 3 });
    const resumed = { full: weightsOf(b3.model), pgOnly: weightsOf(b3.pgOnly!) };
    for (const k of ['full', 'pgOnly'] as const) {
      expect(resumed[k].map((w) => w.name)).toEqual(reference[k].map((w) => w.name));
      resumed[k].forEach((w, i) => {
        const same = w.values.every((v, j) => Object.is(v, reference[k][i].values[j]));
        expect(same, `${k} ${w.name} differs from the uninterrupted run`).toBe(true);
      });
    }
    // The resumed stage-2 log says where it came from.
    const starts = readFileSync(join(dir, 'log-pg.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"event":"start"'))
      .map((l) => JSON.parse(l) as { resumedFrom: string | null });
    expect(starts.map((s) => s.resumedFrom)).toEqual([null, join(dir, 'checkpoints', 'pg', 'step-00000002')]);
    dispose(b3);
  }, 300_000);

  it('stage 3 trains every weight from where stage 2 ended; stopped in it and resumed, bit for bit', async () => {
    const e2eConfig = { ...config, stepsE2e: 2, lrE2e: 1e-3 };
    const two = await runStages(options(join(root, 'c2'), { pgOnly: false }));
    const afterStage2 = weightsOf(two.model);
    dispose(two);
    const three = await runStages(options(join(root, 'c3'), { pgOnly: false, config: e2eConfig }));
    expect(three.stages.e2e).toMatchObject({ restored: false, step: 2 });
    const afterStage3 = weightsOf(three.model);
    dispose(three);
    // Nothing frozen: the optimizer moved the kernels of backbone, TW-stage and PG-stage, not just the
    // batch-norm statistics (which move in training mode with no gradient at all).
    const moved = afterStage3.filter((w, i) => w.values.some((v, j) => v !== afterStage2[i].values[j]));
    const kernels = (pattern: RegExp) => (w: { name: string }) => pattern.test(w.name) && /kernel$/.test(w.name);
    for (const part of [/^backbone\./, /^tw\./, /^pg\./]) {
      const all = afterStage3.filter(kernels(part));
      expect(all.length).toBeGreaterThan(0);
      expect(moved.filter(kernels(part)).length).toBe(all.length);
    }
    const log = readStageLog(join(root, 'c3'), 'e2e');
    expect(log.evals.map((e) => e.step)).toEqual([0, 2]);
    expect(Object.keys(log.evals[0].metrics)).toEqual(expect.arrayContaining(['epe2dPx', 'paMpjpeMm', 'mpjpeMm']));
    // Its step-0 evaluation is the model stage 2 left.
    expect(log.evals[0].metrics.epe2dPx).toBe(readStageLog(join(root, 'c3'), 'pg').evals.at(-1)!.metrics.epe2dPx);

    const dir = join(root, 'c3-stopped');
    const stopped = await runStages(
      options(dir, { pgOnly: false, config: e2eConfig, callbacks: at('e2e', 1, 'stop') }),
    );
    expect([stopped.interruptedIn, stopped.stages.e2e?.step]).toEqual(['e2e', 1]);
    dispose(stopped);
    const resumed = await runStages(options(dir, { pgOnly: false, config: e2eConfig, resume: true }));
    expect(resumed.stages.pg).toMatchObject({ restored: true });
    weightsOf(resumed.model).forEach((w, i) => {
      const same = w.values.every((v, j) => Object.is(v, afterStage3[i].values[j]));
      expect(same, `${w.name} differs from the uninterrupted run`).toBe(true);
    });
    dispose(resumed);
    const svg = runCurveSvg(
      { tw: readStageLog(dir, 'tw'), pg: readStageLog(dir, 'pg'), e2e: readStageLog(dir, 'e2e') },
      'test',
    );
    expect(svg).toContain('stage 3 (end to end)');
  }, 300_000);

  it('refuses a resume with other settings (named, with both values) and a fresh start over an existing run', async () => {
    const dir = join(root, 'a'); // the finished run of the first test
    const other = { ...config, stepsTw: 4, lrPg: 1e-3 };
    const resume = runStages(options(dir, { resume: true, config: other }));
    await expect(resume).rejects.toThrow(PhalanxConfigError);
    await expect(resume).rejects.toThrow(
      /the settings config\.lrPg, config\.stepsTw must be those of the run in .* \(config\.lrPg = 0\.003, config\.stepsTw = 3\), but received .*"config\.lrPg":0\.001/,
    );
    await expect(runStages(options(dir, { testSize: 8, resume: true }))).rejects.toThrow(/testSize/);
    await expect(runStages(options(dir))).rejects.toThrow(PhalanxFileError);
  });

  it('logs held-out evaluations as JSON lines at step 0, every evalEvery steps and at the end, with the baselines', () => {
    const dir = join(root, 'a');
    const tw = readStageLog(dir, 'tw');
    expect(tw.evals.map((e) => e.step)).toEqual([0, 2, 3]);
    for (const e of tw.evals) {
      expect(Object.keys(e.metrics).sort()).toEqual(
        [
          'handCentreTwEpe2dPx',
          'meanPoseTwDepthMm',
          'meanPoseTwEpe2dPx',
          'samples',
          'twDepthMm',
          'twDistance',
          'twEpe2dPx',
        ].sort(),
      );
      expect(e.metrics.samples).toBe(e.step * config.batchSize);
      expect(Object.values(e.metrics).every(Number.isFinite)).toBe(true);
    }
    // The baselines do not depend on the model: the same at every evaluation.
    expect(new Set(tw.evals.map((e) => e.metrics.handCentreTwEpe2dPx)).size).toBe(1);
    for (const stage of ['pg', 'pg-only'] as const) {
      const log = readStageLog(dir, stage);
      expect(log.evals.map((e) => e.step)).toEqual([0, 2, 3]);
      const own =
        stage === 'pg' ? ['epe2dPx', 'mpjpeMm', 'paMpjpeMm'] : ['pgOnlyEpe2dPx', 'pgOnlyMpjpeMm', 'pgOnlyPaMpjpeMm'];
      for (const e of log.evals) {
        expect(Object.keys(e.metrics).sort()).toEqual(
          [...own, 'handCentreEpe2dPx', 'meanPoseEpe2dPx', 'meanPoseMpjpeMm', 'meanPosePaMpjpeMm', 'samples'].sort(),
        );
        expect(Object.values(e.metrics).every(Number.isFinite)).toBe(true);
      }
      expect(log.stepsLogged).toBe(3);
      expect(log.trainSeconds).toBeGreaterThan(0);
    }
    // Every line is one JSON object with an event and a step.
    for (const line of readFileSync(join(dir, 'log-tw.jsonl'), 'utf8').trim().split('\n')) {
      const e = JSON.parse(line) as { event: string; step: number };
      expect(['start', 'step', 'eval', 'checkpoint', 'end']).toContain(e.event);
      expect(Number.isInteger(e.step)).toBe(true);
    }
    const svg = runCurveSvg({ tw, pg: readStageLog(dir, 'pg'), 'pg-only': readStageLog(dir, 'pg-only') }, 'test');
    expect(svg.match(/<polyline /g)).toHaveLength(3);
    expect(svg).toContain('hand centre');
    expect(tf.memory().numTensors).toBeLessThan(10_000);
  });
});

describe('train-ehpe run: stage 3 with a batch of its own', () => {
  it('stage 3 at a batch size and warm-up of its own, after a stop before it: bit for bit the stage 3 of a run at that batch size', async () => {
    const own: JobConfig = { ...config, stepsE2e: 2, lrE2e: 1e-3, batchSizeE2e: 4, warmupE2e: 2 };
    const dir = join(root, 'own-e2e');
    const first = await runStages(options(dir, { pgOnly: false, config: own, stopBefore: 'e2e' }));
    expect(first.interruptedIn).toBeNull();
    expect(Object.keys(first.stages)).toEqual(['tw', 'pg']);
    expect(existsSync(join(dir, 'checkpoints', 'e2e'))).toBe(false);
    dispose(first);
    const second = await runStages(options(dir, { pgOnly: false, config: own, resume: true }));
    expect(second.stages).toMatchObject({ tw: { restored: true }, pg: { restored: true }, e2e: { restored: false } });
    // Samples counted in stage 3's batches of 4.
    expect(readStageLog(dir, 'e2e').evals.map((e) => [e.step, e.metrics.samples])).toEqual([
      [0, 0],
      [2, 8],
    ]);
    const split = weightsOf(second.model);
    dispose(second);

    // The same stage 1 and 2 checkpoints under a run of batch 4 and warm-up 2 throughout: its stage 3 reads the
    // same batches from the same place with the same rates, so it must end with the same weights.
    const batch4: JobConfig = {
      ...config,
      stepsE2e: 2,
      lrE2e: 1e-3,
      batchSize: 4,
      schedule: { warmup: 2, decay: 'cosine' },
    };
    const twin = join(root, 'own-e2e-twin');
    mkdirSync(join(twin, 'checkpoints'), { recursive: true });
    for (const stage of ['tw', 'pg'])
      cpSync(join(dir, 'checkpoints', stage), join(twin, 'checkpoints', stage), { recursive: true });
    const twinOptions = options(twin, { pgOnly: false, config: batch4, resume: true });
    writeFileSync(join(twin, 'config.json'), JSON.stringify(runRecord(twinOptions)));
    const other = await runStages(twinOptions);
    expect(other.stages).toMatchObject({ tw: { restored: true }, pg: { restored: true }, e2e: { restored: false } });
    weightsOf(other.model).forEach((w, i) => expect(w.values, w.name).toEqual(split[i].values));
    dispose(other);
    // And the batch size matters: stage 3 at batch 2 ends elsewhere.
    const batch2 = await runStages(
      options(join(root, 'e2e-b2'), { pgOnly: false, config: { ...own, batchSizeE2e: undefined } }),
    );
    expect(weightsOf(batch2.model).some((w, i) => w.values.some((v, j) => v !== split[i].values[j]))).toBe(true);
    dispose(batch2);
  }, 300_000);
});
