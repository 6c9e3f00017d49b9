/**
 * Temperature annealing of the model's `ConcreteJointSelector`s as a trainer callback.
 */
import { PhalanxConfigError } from '@phalanx/errors';
import { annealTemperature, findConcreteJointSelectors, type TemperatureSchedule } from '@phalanx/layers';
import type { StepBeginInfo, TrainerCallbacks, TrainerHandle } from './callback';

/**
 * Sets τ = `schedule(step)` on every `ConcreteJointSelector` of the trainer's model (nested models
 * included) before each step, `step` being the number of steps completed — so a resumed run anneals as
 * an uninterrupted one. A model without selectors is left alone. `Trainer` adds one for its
 * `temperature` option; `model.fit` users have `TemperatureAnnealing` of `@phalanx/layers`.
 *
 * @example
 * const input = tfl.input({ shape: [4] });
 * const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 2 }).apply(input) as tfl.SymbolicTensor });
 * const loss = ([y]: tf.Tensor[], b: { xs: tf.Tensor; ys: tf.Tensor }) => tf.losses.meanSquaredError(b.ys, y) as tf.Scalar;
 * // The paper's schedule, τ = max(0.1, 5 − 0.1·⌊step / 1000⌋) (`stepTemperature()` of @phalanx/layers):
 * const schedule = (step: number) => Math.max(0.1, 5 - 0.1 * Math.floor(step / 1000));
 * const trainer = new Trainer({ model, loss, callbacks: [new SelectorAnnealing(schedule)] });
 */
export class SelectorAnnealing implements TrainerCallbacks {
  private last: number | null = null;

  constructor(
    /** The schedule `step → τ` (τ > 0). */
    readonly schedule: TemperatureSchedule,
  ) {
    if (typeof schedule !== 'function') {
      throw new PhalanxConfigError('SelectorAnnealing', 'schedule', 'a function step → τ', schedule);
    }
  }

  /** τ set before the last step, or `null` before the first (or without selectors). */
  get temperature(): number | null {
    return this.last;
  }

  /** Takes τ from a checkpoint (the selectors' weights already hold it; this is what is reported). */
  restore(temperature: number | null): void {
    this.last = temperature;
  }

  /** Sets τ = `schedule(step)` on every selector. */
  onStepBegin(info: StepBeginInfo, trainer: TrainerHandle): void {
    if (findConcreteJointSelectors(trainer.model).length === 0) return;
    this.last = annealTemperature(trainer.model, this.schedule, info.step);
  }
}
