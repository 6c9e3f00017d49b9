import { MODEL_SIZES, type JobConfig } from './pipeline';

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
