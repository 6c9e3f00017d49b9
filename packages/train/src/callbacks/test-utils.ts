/**
 * A stand-in for `Trainer` in callback tests: it records the events it dispatches and writes minimal
 * checkpoints, so each callback can be tested alone.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { TrainerState } from '../trainer-state';
import {
  dispatch,
  type CheckpointSummary,
  type MessageInfo,
  type MetricRecord,
  type StepResult,
  type TrainerCallbacks,
  type TrainerHandle,
  type TrainerHook,
  type TrainerHookInfo,
} from './callback';

/** A minimal valid `trainer-state.json`. */
export function stateAt(step: number, finite = true): TrainerState {
  return {
    version: 1,
    step,
    batchesSeen: step,
    samplesSeen: step,
    learningRates: {},
    temperature: null,
    selectorNoiseCalls: {},
    best: null,
    lastMetrics: null,
    savedAt: new Date(0).toISOString(),
    finite,
  };
}

/** A step result with the given step and loss. */
export function stepResult(step: number, loss = 1, extra: Partial<StepResult> = {}): StepResult {
  return {
    step,
    loss,
    gradNorm: 1,
    learningRates: { all: 1e-3 },
    batchSize: 4,
    microBatches: 1,
    skipped: false,
    ms: 10,
    ...extra,
  };
}

/** Records dispatched events; `saveCheckpoint` writes only `trainer-state.json` (finite unless `finite` is false). */
export class FakeTrainer implements TrainerHandle {
  step = 0;
  stopRequested = false;
  finite = true;
  readonly metrics: MetricRecord = { last: null, best: null };
  readonly events: [TrainerHook, unknown][] = [];
  readonly saved: string[] = [];
  evaluationWeightCalls = 0;

  constructor(
    readonly model: tfl.LayersModel,
    readonly callbacks: TrainerCallbacks[] = [],
  ) {}

  stop(): void {
    this.stopRequested = true;
  }

  async emit<K extends TrainerHook>(hook: K, info: TrainerHookInfo<K>): Promise<void> {
    this.events.push([hook, info]);
    await dispatch(this.callbacks, hook, info, this);
  }

  message(text: string, level: MessageInfo['level'] = 'info'): Promise<void> {
    return this.emit('onMessage', { step: this.step, text, level });
  }

  async saveCheckpoint(dir: string): Promise<CheckpointSummary> {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'trainer-state.json'), JSON.stringify(stateAt(this.step, this.finite)));
    this.saved.push(dir);
    return { dir, finite: this.finite };
  }

  withEvaluationWeights<T>(fn: () => Promise<T>): Promise<T> {
    this.evaluationWeightCalls += 1;
    return fn();
  }

  /** Runs `onStepEnd` for steps `from`..`to` (inclusive), moving `step`. */
  async steps(from: number, to: number): Promise<void> {
    for (let s = from; s <= to; s++) {
      this.step = s;
      await this.emit('onStepEnd', stepResult(s));
    }
  }
}
