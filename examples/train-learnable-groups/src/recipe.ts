/**
 * The knobs of the training recipe beyond the paper's: the learning-rate schedule (linear warm-up,
 * cosine decay), decoupled weight decay (AdamW), the σ schedule of the 2D targets and the batch-norm
 * momentum. Each is a pure function of the job configuration and the step, so a resumed run sees the
 * values an uninterrupted one would.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { isBatchNormalization } from '@phalanx/layers';
import { cosineLr, warmRestartsLr, warmupLr, type LrSchedule } from '@phalanx/train';

/** Shape of the learning-rate schedule shared by every parameter group (each scales it by its own peak rate). */
export interface LrScheduleConfig {
  /** Steps of linear warm-up from 0 to the peak rate (0: none). */
  warmupSteps: number;
  /** `'constant'`: the peak rate after warm-up; `'cosine'`: cosine decay to `finalFraction`·peak at the last step. */
  decay: 'constant' | 'cosine';
  /** Rate at the last step as a fraction of the peak (cosine only). Default 0. */
  finalFraction?: number;
  /**
   * Warm restarts (SGDR, Loshchilov & Hutter): the run is cut into cycles of `restartEvery` steps (the last
   * one may be shorter), each with its own warm-up and decay. Default: one cycle, the whole run.
   */
  restartEvery?: number;
  /** Peak of cycle k as `restartPeak`^k × the group's peak (default 1: every cycle restarts at the peak). */
  restartPeak?: number;
}

/**
 * The learning rate of a group with peak rate `peak` over a run of `steps` steps:
 * `lr(t) = peak·t/w` for t < w (warm-up), then `peak` (constant) or
 * `f·peak + ½(1 − f)·peak·(1 + cos(π·(t − w)/(steps − w)))` (cosine), f = `finalFraction`.
 * With `restartEvery` = R the formula applies to each cycle `k = ⌊t/R⌋` on its own (t − kR in place of t,
 * the cycle's length in place of `steps`, `restartPeak`^k·peak in place of `peak`), so the first R steps
 * are those of a run of R steps.
 *
 * @example
 * const lr = groupLr(3e-3, { warmupSteps: 50, decay: 'cosine' }, 500);
 * lr(25); // 0.0015
 * lr(500); // 0
 */
export function groupLr(peak: number, schedule: LrScheduleConfig | undefined, steps: number): number | LrSchedule {
  if (!schedule) return peak;
  const every = schedule.restartEvery;
  if (every === undefined || every >= steps) return cycleLr(peak, schedule, steps);
  if (!Number.isInteger(every) || every < 2) {
    throw new Error(`restartEvery must be an integer ≥ 2, but received ${every}.`);
  }
  const cycle = (length: number) => cycleLr(peak, schedule, length);
  return warmRestartsLr({ every, steps, factor: schedule.restartPeak ?? 1, cycle });
}

/** One cycle of {@link groupLr}: warm-up, then constant or cosine over `steps` steps. */
function cycleLr(peak: number, schedule: LrScheduleConfig, steps: number): number | LrSchedule {
  const w = Math.min(schedule.warmupSteps, steps - 1);
  const decayed =
    schedule.decay === 'cosine'
      ? (() => {
          const cos = cosineLr({
            initial: peak,
            steps: Math.max(1, steps - w),
            minimum: peak * (schedule.finalFraction ?? 0),
          });
          return (t: number) => cos(Math.max(0, t - w));
        })()
      : () => peak;
  return w > 0 ? warmupLr({ steps: w, after: decayed }) : decayed;
}

/**
 * Adam with decoupled weight decay (Loshchilov & Hutter, AdamW): before each Adam update,
 * `w ← w − lr·λ·w` for the variables whose name `decays` accepts (default: convolution kernels).
 * The optimizer state (moments, step) is Adam's, so checkpoints store and restore it unchanged.
 */
export class AdamWOptimizer extends tf.AdamOptimizer {
  constructor(
    learningRate: number,
    private readonly weightDecay: number,
    private readonly decays: (variableName: string) => boolean = (n) => /kernel/.test(n),
  ) {
    super(learningRate, 0.9, 0.999);
  }

  override applyGradients(variableGradients: Parameters<tf.AdamOptimizer['applyGradients']>[0]): void {
    const names = Array.isArray(variableGradients)
      ? variableGradients.filter((g) => g.tensor !== null).map((g) => g.name)
      : Object.keys(variableGradients);
    const factor = 1 - this.learningRate * this.weightDecay;
    tf.tidy(() => {
      for (const name of names) {
        if (!this.decays(name)) continue;
        const v = tf.engine().registeredVariables[name];
        if (v) v.assign(tf.mul(v, factor));
      }
    });
    super.applyGradients(variableGradients);
  }
}

/**
 * σ of the Gaussian 2D targets at `step`: constant `initial`, or — with `final` — a cosine from
 * `initial` at step 0 to `final` at the last step (large → small: the first steps get a coarse target,
 * the last ones a sharp one).
 */
export function sigmaAt(initial: number, final: number | undefined, step: number, steps: number): number {
  if (final === undefined || steps <= 1) return initial;
  const t = Math.min(1, step / (steps - 1));
  return final + 0.5 * (initial - final) * (1 + Math.cos(Math.PI * t));
}

/**
 * Sets the (Keras-style) momentum of every batch-normalisation layer of `model`:
 * `moving ← momentum·moving + (1 − momentum)·batch` (PyTorch's `momentum` is `1 −` this). Returns the
 * number of layers changed.
 */
export function setBatchNormMomentum(model: tfl.LayersModel, momentum: number): number {
  let n = 0;
  for (const layer of model.layers) {
    if (!isBatchNormalization(layer)) continue;
    (layer as unknown as { momentum: number }).momentum = momentum;
    n++;
  }
  return n;
}
