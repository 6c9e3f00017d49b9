/**
 * Periodic evaluation with best-metric tracking, as a trainer callback.
 */
import * as tf from '@tensorflow/tfjs-core';
import { checkInteger, checkOptions, describeCompact, PhalanxConfigError } from '@phalanx/errors';
import type { BestMetric } from '../trainer-state';
import type { LoopEndInfo, StepResult, TrainBeginInfo, TrainerCallbacks, TrainerHandle } from './callback';

/** What an evaluation function is told. */
export interface EvaluationContext {
  /** Steps completed. */
  step: number;
}

/** Computes evaluation metrics (named numbers), e.g. with `poseEvaluation`. */
export type EvaluateFn = (context: EvaluationContext) => Promise<Record<string, number>>;

/** Which metric to monitor, and which direction is better. */
export interface BestMetricSpec {
  /** Metric name (a key of what `evaluate` returns). */
  name: string;
  /** `'min'` (lower is better, e.g. EPE) or `'max'` (e.g. AUC). */
  mode: 'min' | 'max';
}

/** Options of {@link PeriodicEvaluation}. */
export interface PeriodicEvaluationOptions {
  /** The evaluation. Required. */
  evaluate: EvaluateFn;
  /** Evaluate every this many steps (integer ≥ 1), and at the end. Default: only at the end. */
  every?: number;
  /**
   * Track the best value of this metric (`onEvaluate` reports `improved`; `Checkpointing` keeps `best/`).
   * Every evaluation must return it (else a `PhalanxConfigError`).
   */
  bestMetric?: BestMetricSpec;
}

/** The keys of {@link PeriodicEvaluationOptions}: any other key is a named error. */
const PERIODIC_EVALUATION_KEYS = { evaluate: true, every: true, bestMetric: true } satisfies Record<
  keyof PeriodicEvaluationOptions,
  true
>;

/**
 * Runs `evaluate({step})` every `every` steps and once more when the loop ends (unless it was
 * interrupted), with the trainer's evaluation weights (the moving average when the trainer keeps one
 * for evaluation). Stores the metrics in `trainer.metrics`, updates the monitored best value (only with a
 * finite value) and dispatches `onEvaluate` with `improved`. An evaluation whose metrics lack the
 * monitored one (`bestMetric.name`) is a `PhalanxConfigError` naming it and the metrics returned; a
 * non-finite value of it is kept but never the best.
 *
 * @example
 * const evaluate = async ({ step }: EvaluationContext) => ({ epe2d: 10 / (1 + step) });
 * const evaluation = new PeriodicEvaluation({ evaluate, every: 200, bestMetric: { name: 'epe2d', mode: 'min' } });
 */
export class PeriodicEvaluation implements TrainerCallbacks {
  /** Steps between evaluations, `null` for only at the end. */
  readonly every: number | null;
  /** The monitored metric, if any. */
  readonly bestMetric: BestMetricSpec | null;
  private readonly evaluate: EvaluateFn;
  private totalSteps = Infinity;
  private lastStep = -1;

  constructor(options: PeriodicEvaluationOptions) {
    const name = 'PeriodicEvaluation';
    checkOptions(name, 'options', options, PERIODIC_EVALUATION_KEYS, 'an object {evaluate, every?, bestMetric?}');
    if (typeof options.evaluate !== 'function') {
      throw new PhalanxConfigError(name, 'evaluate', 'a function', options.evaluate);
    }
    this.evaluate = options.evaluate;
    this.every = options.every === undefined ? null : checkInteger(name, 'every', options.every, 1);
    const best = options.bestMetric;
    if (best !== undefined && (best === null || typeof best.name !== 'string')) {
      throw new PhalanxConfigError(name, 'bestMetric', 'an object {name, mode}', best);
    }
    if (best !== undefined && best.mode !== 'min' && best.mode !== 'max') {
      throw new PhalanxConfigError(name, 'bestMetric.mode', "'min' or 'max'", best.mode);
    }
    this.bestMetric = best ?? null;
  }

  /** Remembers the run's length and starts tracking the monitored metric (kept if resumed with the same name). */
  onTrainBegin(info: TrainBeginInfo, trainer: TrainerHandle): void {
    this.totalSteps = info.totalSteps;
    this.lastStep = -1;
    const spec = this.bestMetric;
    if (spec && trainer.metrics.best?.name !== spec.name) {
      trainer.metrics.best = { name: spec.name, mode: spec.mode, value: null, step: null };
    }
  }

  /** Evaluates every `every` steps (the last step waits for `onLoopEnd`). */
  async onStepEnd(info: StepResult, trainer: TrainerHandle): Promise<void> {
    if (this.every !== null && info.step % this.every === 0 && info.step < this.totalSteps) await this.run(trainer);
  }

  /** The final evaluation, unless the run was interrupted. */
  async onLoopEnd(info: LoopEndInfo, trainer: TrainerHandle): Promise<void> {
    if (!info.interrupted) await this.run(trainer);
  }

  private async run(trainer: TrainerHandle): Promise<void> {
    const step = trainer.step;
    if (this.lastStep === step) return;
    this.lastStep = step;
    const t0 = performance.now();
    const metrics = await trainer.withEvaluationWeights(() => this.evaluate({ step }));
    checkMetrics(metrics);
    this.checkMonitored(metrics, step);
    const ms = performance.now() - t0;
    trainer.metrics.last = metrics;
    const improved = updateBest(trainer.metrics, metrics, step);
    await trainer.emit('onEvaluate', { step, metrics, ms, best: trainer.metrics.best, improved });
  }

  /**
   * A monitored metric that `evaluate` does not return would never be tracked (no `best/` checkpoint),
   * silently: a `PhalanxConfigError` naming it and the metrics that were returned instead.
   */
  private checkMonitored(metrics: Record<string, number>, step: number): void {
    const name = this.bestMetric?.name;
    if (name === undefined || Object.prototype.hasOwnProperty.call(metrics, name)) return;
    const keys = Object.keys(metrics);
    const returned = keys.length === 0 ? 'no metrics' : keys.map((k) => `'${k}'`).join(', ');
    throw new PhalanxConfigError(
      'PeriodicEvaluation',
      'bestMetric.name',
      `a metric that evaluate returns (at step ${step} it returned ${returned})`,
      name,
    );
  }
}

/**
 * Throws unless `evaluate` resolved to a plain record of numbers (what the log and every checkpoint's
 * `lastMetrics` hold: anything else would be written as a state no resume can read).
 */
function checkMetrics(metrics: unknown): asserts metrics is Record<string, number> {
  const plain =
    metrics !== null &&
    typeof metrics === 'object' &&
    !Array.isArray(metrics) &&
    !(metrics instanceof tf.Tensor) &&
    Object.values(metrics).every((v) => typeof v === 'number');
  if (!plain) {
    throw new PhalanxConfigError(
      'PeriodicEvaluation',
      'evaluate',
      'to resolve to a record of numbers',
      metrics,
      describeCompact,
    );
  }
}

/** Updates `record.best` with `metrics` when its value is finite and better; returns whether it was. */
function updateBest(record: { best: BestMetric | null }, metrics: Record<string, number>, step: number): boolean {
  const best = record.best;
  if (!best) return false;
  const v = metrics[best.name];
  if (typeof v !== 'number' || !Number.isFinite(v)) return false;
  const better = best.value === null || (best.mode === 'min' ? v < best.value : v > best.value);
  if (better) record.best = { ...best, value: v, step };
  return better;
}
