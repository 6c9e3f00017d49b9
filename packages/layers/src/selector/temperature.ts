/**
 * Temperature annealing for {@link ConcreteJointSelector}: pure `step → τ` schedules, a `model.fit`
 * callback and a hook for custom training loops.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import {
  checkNonNegative,
  checkInteger,
  checkOptions,
  checkPositiveFloat32,
  PhalanxConfigError,
} from '@phalanx/errors';
import { checkArgs, checkLayer } from '../util/checks';
import { ConcreteJointSelector } from './concrete-joint-selector';
import { EXPONENTIAL_TEMPERATURE_DEFAULTS, STEP_TEMPERATURE_DEFAULTS } from './temperature-defaults';

export { EXPONENTIAL_TEMPERATURE_DEFAULTS, STEP_TEMPERATURE_DEFAULTS } from './temperature-defaults';

/** A temperature schedule: global training step (integer ≥ 0) → temperature τ > 0. */
export type TemperatureSchedule = (step: number) => number;

/**
 * Arguments of {@link stepTemperature}; defaults in {@link STEP_TEMPERATURE_DEFAULTS} (the paper's schedule).
 * Temperatures are positive normal float32 numbers (see `checkPositiveFloat32`): the selector stores τ in a
 * float32 weight, where a smaller one would be 0.
 */
export interface StepTemperatureArgs {
  /** Temperature at step 0 (> 0, a normal float32). */
  initial?: number;
  /** Amount subtracted every `every` steps (finite, ≥ 0). */
  decrement?: number;
  /** Steps between two decrements (integer ≥ 1). */
  every?: number;
  /** Lower bound of τ (> 0, a normal float32, ≤ `initial`). */
  minimum?: number;
}

/** Arguments of {@link exponentialTemperature}; defaults in {@link EXPONENTIAL_TEMPERATURE_DEFAULTS}. */
export interface ExponentialTemperatureArgs {
  /** Temperature at step 0 (> 0, a normal float32). */
  initial?: number;
  /** Decay rate per step (finite, ≥ 0). Required. */
  rate: number;
  /** Lower bound of τ (> 0, a normal float32, ≤ `initial`). */
  minimum?: number;
}

/** The keys {@link stepTemperature} accepts; any other (a misspelt `decrment`) is a `PhalanxConfigError`. */
const STEP_TEMPERATURE_KEYS = { initial: true, decrement: true, every: true, minimum: true } satisfies Record<
  keyof StepTemperatureArgs,
  true
>;

/** The keys {@link exponentialTemperature} accepts. */
const EXPONENTIAL_TEMPERATURE_KEYS = { initial: true, rate: true, minimum: true } satisfies Record<
  keyof ExponentialTemperatureArgs,
  true
>;

function checkMinimum(component: string, minimum: unknown, initial: number): number {
  checkPositiveFloat32(component, 'minimum', minimum);
  if ((minimum as number) > initial) {
    throw new PhalanxConfigError(component, 'minimum', `a number ≤ initial (${initial})`, minimum);
  }
  return minimum as number;
}

/** Rounds away binary noise such as 4.8999999999999995 (12 significant digits). */
function clean(value: number): number {
  return Number(value.toPrecision(12));
}

/**
 * The step schedule of Learnable Groups: τ starts at `initial` and drops by `decrement` every `every`
 * steps, never below `minimum`:
 *
 * `τ(step) = max(minimum, initial − decrement · ⌊step / every⌋)`
 *
 * (the paper: 5, −0.1 every 1000 steps). Values are rounded to 12 significant digits so that
 * `τ(1000) === 4.9`.
 *
 * @returns A pure function `step → τ` (step an integer ≥ 0).
 * @example
 * const tau = stepTemperature(); // paper defaults
 * tau(0); // 5
 * tau(1999); // 4.9
 * tau(1_000_000); // 0.1
 */
export function stepTemperature(args: StepTemperatureArgs = {}): TemperatureSchedule {
  const name = 'stepTemperature';
  const defaults = STEP_TEMPERATURE_DEFAULTS;
  checkOptions(name, 'args', args, STEP_TEMPERATURE_KEYS, 'an object {initial?, decrement?, every?, minimum?}');
  const initial = checkPositiveFloat32(name, 'initial', args.initial ?? defaults.initial);
  const decrement = checkNonNegative(name, 'decrement', args.decrement ?? defaults.decrement);
  const every = checkInteger(name, 'every', args.every ?? defaults.every, 1);
  const minimum = checkMinimum(name, args.minimum ?? defaults.minimum, initial);
  return (step: number): number => {
    checkInteger(name, 'step', step, 0);
    return Math.max(minimum, clean(initial - decrement * Math.floor(step / every)));
  };
}

/**
 * Exponential annealing of Jang et al. (Gumbel-softmax, 2017):
 *
 * `τ(step) = max(minimum, initial · exp(−rate · step))`
 *
 * @returns A pure function `step → τ` (step an integer ≥ 0).
 * @example
 * const tau = exponentialTemperature({ initial: 1, rate: 1e-4, minimum: 0.5 });
 * tau(0); // 1
 * tau(10_000); // 0.5 (clamped; e^-1 ≈ 0.368)
 */
export function exponentialTemperature(args: ExponentialTemperatureArgs): TemperatureSchedule {
  const name = 'exponentialTemperature';
  checkOptions(name, 'args', args, EXPONENTIAL_TEMPERATURE_KEYS, 'an object {initial?, rate, minimum?}');
  const initial = checkPositiveFloat32(name, 'initial', args.initial ?? EXPONENTIAL_TEMPERATURE_DEFAULTS.initial);
  const rate = checkNonNegative(name, 'rate', args.rate);
  const minimum = checkMinimum(name, args.minimum ?? EXPONENTIAL_TEMPERATURE_DEFAULTS.minimum, initial);
  return (step: number): number => {
    checkInteger(name, 'step', step, 0);
    return Math.max(minimum, initial * Math.exp(-rate * step));
  };
}

/**
 * Every {@link ConcreteJointSelector} in `model`, including those inside nested models (each layer
 * once, in layer order).
 */
export function findConcreteJointSelectors(model: tfl.layers.Layer): ConcreteJointSelector[] {
  checkLayer('findConcreteJointSelectors', model);
  const found = new Set<ConcreteJointSelector>();
  const visit = (layer: tfl.layers.Layer): void => {
    if (layer instanceof ConcreteJointSelector) found.add(layer);
    const children = (layer as { layers?: unknown }).layers;
    if (Array.isArray(children)) children.forEach((child) => visit(child as tfl.layers.Layer));
  };
  visit(model);
  return [...found];
}

/**
 * Sets τ = `schedule(step)` on every {@link ConcreteJointSelector} of `model` (nested models
 * included) and returns τ. The hook for custom training loops; {@link TemperatureAnnealing} calls it
 * for `model.fit`.
 *
 * @example
 * const x = tfl.input({ shape: [3, 21, 2] });
 * const y = concreteJointSelector({ numGroups: 3, numJoints: 21 }).apply(x) as tfl.SymbolicTensor;
 * const model = tfl.model({ inputs: x, outputs: y });
 * const optimizer = tf.train.adam(1e-3);
 * const batch = tf.randomNormal([8, 3, 21, 2]);
 * const schedule = stepTemperature();
 * for (let step = 0; step < 100; step++) {
 *   annealTemperature(model, schedule, step);
 *   optimizer.minimize(() => tf.mean(tf.square(model.apply(batch, { training: true }) as tf.Tensor)) as tf.Scalar);
 * }
 */
export function annealTemperature(model: tfl.layers.Layer, schedule: TemperatureSchedule, step: number): number {
  checkLayer('annealTemperature', model);
  if (typeof schedule !== 'function') {
    throw new PhalanxConfigError('annealTemperature', 'schedule', 'a function step → τ', schedule);
  }
  const temperature = schedule(step);
  checkPositiveFloat32('annealTemperature', 'schedule(step)', temperature);
  for (const selector of findConcreteJointSelectors(model)) selector.setTemperature(temperature);
  return temperature;
}

/** Options of {@link TemperatureAnnealing}. */
export interface TemperatureAnnealingOptions {
  /** Global step of the first batch (integer ≥ 0), e.g. to resume training. Default 0. */
  initialStep?: number;
}

/**
 * A `model.fit` callback that anneals the temperature of every {@link ConcreteJointSelector} of the
 * model (nested models included): at the start of each batch it sets τ = `schedule(step)` with a
 * global step counter that runs on across epochs (and across `fit` calls with the same callback).
 *
 * @example
 * const x = tfl.input({ shape: [3, 21, 2] });
 * const model = tfl.model({ inputs: x, outputs: concreteJointSelector({ numGroups: 3, numJoints: 21 }).apply(x) as tfl.SymbolicTensor });
 * model.compile({ optimizer: 'adam', loss: 'meanSquaredError' });
 * const xs = tf.randomNormal([32, 3, 21, 2]);
 * const ys = tf.randomNormal([32, 21, 2]);
 * await model.fit(xs, ys, { epochs: 10, callbacks: [new TemperatureAnnealing(stepTemperature())] });
 */
export class TemperatureAnnealing extends tfl.Callback {
  /** Global step of the next batch. */
  private nextStep: number;
  /** τ set at the last batch (NaN before the first). */
  private lastTemperature = Number.NaN;

  constructor(
    /** The schedule `step → τ`. */
    readonly schedule: TemperatureSchedule,
    options: TemperatureAnnealingOptions = {},
  ) {
    super();
    if (typeof schedule !== 'function') {
      throw new PhalanxConfigError('TemperatureAnnealing', 'schedule', 'a function step → τ', schedule);
    }
    const { initialStep = 0 } = checkArgs('TemperatureAnnealing', 'options', options);
    this.nextStep = checkInteger('TemperatureAnnealing', 'initialStep', initialStep, 0);
  }

  /** Global step of the next batch (number of batches seen, plus `initialStep`). */
  get step(): number {
    return this.nextStep;
  }

  /** τ set at the last batch (NaN before the first batch). */
  get temperature(): number {
    return this.lastTemperature;
  }

  /**
   * Sets τ = `schedule(step)` on every selector of the model, then advances the step; `model.fit` calls it before each
   * batch.
   */
  override async onBatchBegin(): Promise<void> {
    this.lastTemperature = annealTemperature(this.model, this.schedule, this.nextStep);
    this.nextStep += 1;
  }
}
