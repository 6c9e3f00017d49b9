import { MODEL_SIZES, type JobConfig } from './pipeline';
import type { RunOptions } from './run';

/**
 * The job configuration of the example's tests: the tiny model, W+T, batch 2, no steps of its own (the tests
 * drive the trainers), with `overrides` on top.
 */
export function tinyJob(overrides: Partial<JobConfig> = {}): JobConfig {
  return {
    model: { ...MODEL_SIZES.tiny, lateralOffsets: [0, 0, 0, 0, 0] },
    variant: 'W+T',
    stepsTw: 0,
    stepsPg: 0,
    batchSize: 2,
    lrTw: 3e-3,
    lrPg: 3e-3,
    depthRange: 200,
    dataSeed: 1,
    ...overrides,
  };
}

/**
 * The run options of the example's run tests for `config` in `out`: a fresh run with the PG-only ablation, 4
 * held-out hands, evaluations and checkpoints every 2 steps, data on the training thread; `overrides` on top.
 */
export function tinyRun(config: JobConfig, out: string, overrides: Partial<RunOptions> = {}): RunOptions {
  return {
    config,
    out,
    preset: 'test',
    resume: false,
    pgOnly: true,
    testSize: 4,
    evalEvery: 2,
    checkpointEvery: 2,
    dataWorkers: 0,
    ...overrides,
  };
}
