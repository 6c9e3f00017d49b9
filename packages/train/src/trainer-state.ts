/**
 * `trainer-state.json`: what a checkpoint holds besides weights and optimizer slots — the step, the data
 * position, schedules, selector noise streams, the monitored metric — and its schema, checked on every
 * read so a damaged or foreign file is a named error instead of a half-restored run.
 */
import { PhalanxFileError } from '@phalanx/errors';

/** Best value of the monitored evaluation metric so far. */
export interface BestMetric {
  /** Metric name (a key of what `evaluate` returns). */
  name: string;
  /** `'min'` (lower is better, e.g. EPE) or `'max'` (e.g. AUC). */
  mode: 'min' | 'max';
  /** Best value seen, `null` before the first evaluation. */
  value: number | null;
  /** Step of the best value, `null` before the first evaluation. */
  step: number | null;
}

/** The state of an exponential moving average of the weights, as saved in a checkpoint. */
export interface EmaState {
  /** Averaging updates applied so far (the `t` of the warm-up decay). */
  updates: number;
  /** The decay the average was configured with. */
  decay: number;
}

/** Contents of `trainer-state.json`. */
export interface TrainerState {
  /** Format version (1). */
  version: 1;
  /** Optimizer steps completed (skipped steps included). */
  step: number;
  /**
   * Batches taken from the data source so far (the data position to resume from; micro-batches count one
   * each). Every step takes at least one batch and at most {@link TrainerState.maxBatchesPerStep}, so
   * `step ≤ batchesSeen ≤ step · maxBatchesPerStep`; a value outside is refused on reading (a resume over a
   * plain iterable would otherwise skip that many batches).
   */
  batchesSeen: number;
  /**
   * The most batches one step has taken so far (`accumulateBatches`, or more when `trainStep` was given
   * more), 0 before the first step. Absent in older files: the resuming trainer's `accumulateBatches`
   * bounds their `batchesSeen` instead.
   */
  maxBatchesPerStep?: number;
  /** Samples seen so far. */
  samplesSeen: number;
  /**
   * Learning rate of each parameter group at the last step, by group name (`null` when the group's
   * optimizer has no readable rate).
   */
  learningRates: Record<string, number | null>;
  /** Concrete temperature at the last step (`null` without annealing). */
  temperature: number | null;
  /** Position in each seeded `ConcreteJointSelector` noise stream (calls so far), by layer name. */
  selectorNoiseCalls: Record<string, number>;
  /**
   * Position in the noise stream of every layer that has one (calls so far), by layer name: selectors,
   * and the dropout mask streams of `DynamicEdgeGAT`, `MultiHeadAttention` and `SeededDropout`. Absent in
   * older files, which only have {@link TrainerState.selectorNoiseCalls}.
   */
  noiseCalls?: Record<string, number>;
  /** The monitored metric, when `bestMetric` was given. */
  best: BestMetric | null;
  /** The last evaluation's metrics (`null` stands for a non-finite value). */
  lastMetrics: Record<string, number | null> | null;
  /** Wall-clock time of the save (ISO 8601). */
  savedAt: string;
  /** Steps dropped because of a non-finite loss, loss part or gradient norm (`onNonFinite: 'skip'`). Default 0. */
  skippedSteps?: number;
  /**
   * Whether every weight and optimizer slot of the checkpoint is finite. Checkpoint rotation never
   * deletes the newest finite checkpoint in favour of non-finite ones. Absent in older files (= finite).
   */
  finite?: boolean;
  /** The moving average of the weights (saved in `ema/`), when the trainer keeps one. */
  ema?: EmaState | null;
}

type Check = (value: unknown) => string | null;

const integer: Check = (v) => (Number.isSafeInteger(v) && (v as number) >= 0 ? null : 'must be an integer ≥ 0');
const finiteNumber: Check = (v) => (typeof v === 'number' && Number.isFinite(v) ? null : 'must be a finite number');
const nullable =
  (check: Check): Check =>
  (v) =>
    v === null ? null : check(v);
const optional =
  (check: Check): Check =>
  (v) =>
    v === undefined ? null : check(v);
const record =
  (check: Check): Check =>
  (v) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'must be an object';
    for (const [key, item] of Object.entries(v)) {
      const problem = check(item);
      if (problem !== null) return `entry '${key}' ${problem}`;
    }
    return null;
  };
const object =
  (fields: Record<string, Check>): Check =>
  (v) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'must be an object';
    for (const [key, check] of Object.entries(fields)) {
      const problem = check((v as Record<string, unknown>)[key]);
      if (problem !== null) return `field '${key}' ${problem}`;
    }
    return null;
  };

const SCHEMA: Record<keyof TrainerState, Check> = {
  version: (v) => (v === 1 ? null : 'must be 1'),
  step: integer,
  batchesSeen: integer,
  maxBatchesPerStep: optional(integer),
  samplesSeen: integer,
  learningRates: record(nullable(finiteNumber)),
  temperature: nullable(finiteNumber),
  selectorNoiseCalls: record(integer),
  noiseCalls: optional(record(integer)),
  best: nullable(
    object({
      name: (v) => (typeof v === 'string' && v !== '' ? null : 'must be a non-empty string'),
      mode: (v) => (v === 'min' || v === 'max' ? null : "must be 'min' or 'max'"),
      value: nullable(finiteNumber),
      step: nullable(integer),
    }),
  ),
  lastMetrics: nullable(record(nullable((v) => (typeof v === 'number' ? null : 'must be a number')))),
  savedAt: (v) => (typeof v === 'string' ? null : 'must be a string'),
  skippedSteps: optional(integer),
  finite: optional((v) => (typeof v === 'boolean' ? null : 'must be a boolean')),
  ema: optional(nullable(object({ updates: integer, decay: finiteNumber }))),
};

/**
 * Parses and validates the text of a `trainer-state.json` against the {@link TrainerState} schema.
 * Unknown fields are ignored (newer writers may add some). Throws `PhalanxFileError` naming `file` and
 * the first field that is missing or wrong — also for a data position the step count rules out
 * (`batchesSeen` below `step`, or above `step · maxBatchesPerStep`).
 *
 * @example
 * import { readFileSync } from 'node:fs';
 * import { parseTrainerState } from '@phalanx/train';
 * const state = parseTrainerState(readFileSync('runs/a/step-00000100/trainer-state.json', 'utf8'), 'trainer-state.json');
 * state.step; // 100
 */
export function parseTrainerState(text: string, file: string): TrainerState {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new PhalanxFileError(file, 'content', `is not valid JSON: ${(error as Error).message}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new PhalanxFileError(file, 'content', 'must be a JSON object');
  }
  for (const [key, check] of Object.entries(SCHEMA)) {
    const problem = check((json as Record<string, unknown>)[key]);
    if (problem !== null) throw new PhalanxFileError(file, `field '${key}'`, problem);
  }
  const state = json as TrainerState;
  checkDataPosition(state, state.maxBatchesPerStep, file);
  return state;
}

/**
 * Throws `PhalanxFileError` naming `file` unless `state.batchesSeen` is one that `state.step` steps of
 * 1 … `perStep` batches each can reach (no upper bound when `perStep` is undefined) and `state.skippedSteps`
 * (counted in `step`) is at most `step`.
 *
 * @example
 * import { readFileSync } from 'node:fs';
 * import { checkDataPosition, parseTrainerState } from '@phalanx/train';
 * const file = 'runs/a/step-00000100/trainer-state.json';
 * const state = parseTrainerState(readFileSync(file, 'utf8'), file);
 * checkDataPosition(state, 4, file); // a trainer that takes 4 batches per step: batchesSeen ≤ 400
 */
export function checkDataPosition(state: TrainerState, perStep: number | undefined, file: string): void {
  const { step, batchesSeen, skippedSteps } = state;
  if (skippedSteps !== undefined && skippedSteps > step) {
    throw new PhalanxFileError(
      file,
      "field 'skippedSteps'",
      `must be ≤ step (${step}), as skipped steps are counted in it, but is ${skippedSteps}`,
    );
  }
  if (batchesSeen < step) {
    throw new PhalanxFileError(
      file,
      "field 'batchesSeen'",
      `must be ≥ step (${step}), as every step takes a batch, but is ${batchesSeen}`,
    );
  }
  if (perStep !== undefined && batchesSeen > step * perStep) {
    const source = state.maxBatchesPerStep === undefined ? 'accumulateBatches' : 'maxBatchesPerStep';
    throw new PhalanxFileError(
      file,
      "field 'batchesSeen'",
      `must be ≤ step × ${source} (${step} × ${perStep}), the most batches those steps can take, but is ${batchesSeen}`,
    );
  }
}
