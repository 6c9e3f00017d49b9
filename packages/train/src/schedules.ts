/**
 * Learning-rate schedules: pure functions `step → learning rate` (step = number of optimizer steps
 * already taken, an integer ≥ 0). They hold no state, so a resumed run gets exactly the rates of an
 * uninterrupted one.
 */
import { checkNonNegative, checkInteger, checkOptions, checkPositive, PhalanxConfigError } from '@phalanx/errors';

/** A learning-rate schedule: global step (integer ≥ 0) → learning rate (finite, ≥ 0). */
export type LrSchedule = (step: number) => number;

/** The keys of each schedule's arguments: any other key is a named error (a misspelt `gama` is not the default). */
const STEP_LR_KEYS = { initial: true, gamma: true, every: true, milestones: true, steps: true } satisfies Record<
  keyof StepLrArgs,
  true
>;
const COSINE_LR_KEYS = { initial: true, steps: true, minimum: true } satisfies Record<keyof CosineLrArgs, true>;
const EXPONENTIAL_LR_KEYS = { initial: true, gamma: true, every: true, minimum: true, steps: true } satisfies Record<
  keyof ExponentialLrArgs,
  true
>;
const POLYNOMIAL_LR_KEYS = { initial: true, steps: true, power: true, minimum: true } satisfies Record<
  keyof PolynomialLrArgs,
  true
>;
const WARMUP_LR_KEYS = { steps: true, after: true, startFactor: true } satisfies Record<keyof WarmupLrArgs, true>;
const WARM_RESTARTS_LR_KEYS = { every: true, cycle: true, steps: true, factor: true } satisfies Record<
  keyof WarmRestartsLrArgs,
  true
>;

/**
 * A constant learning rate: `lr(step) = value`.
 *
 * @example
 * constantLr(1e-3)(1000); // 0.001
 */
export function constantLr(value: number): LrSchedule {
  checkNonNegative('constantLr', 'value', value);
  return () => value;
}

/** Arguments of {@link stepLr}. */
export interface StepLrArgs {
  /** Learning rate at step 0 (finite, ≥ 0). Required. */
  initial: number;
  /** Multiplicative factor applied at each drop (finite, > 0; e.g. 0.1). Default 0.1. */
  gamma?: number;
  /**
   * When to drop: every `every` steps (an integer ≥ 1), or at each of the listed steps
   * (`milestones`, increasing integers ≥ 1; PyTorch's `MultiStepLR`). Give exactly one.
   */
  every?: number;
  /** Steps at which the rate is multiplied by `gamma` (increasing integers ≥ 1). */
  milestones?: number[];
  /**
   * Length of the run (integer ≥ 1): later steps keep the rate of step `steps`. Required with `every` when
   * the rate grows (`gamma > 1`, `initial > 0`), whose rates would otherwise overflow to Infinity. Default:
   * endless.
   */
  steps?: number;
}

/**
 * Step decay (PyTorch's `StepLR` / `MultiStepLR`): `lr(step) = initial · gamma^k` where k is the number
 * of drops so far — `⌊step / every⌋`, or the number of `milestones` ≤ step (step capped at `steps`).
 *
 * Every rate is finite: a growing rate (`gamma > 1`) whose largest rate over the run — at `steps`, or
 * after the last milestone — is not finite is a `PhalanxConfigError` here, not mid-training.
 *
 * @example
 * const lr = stepLr({ initial: 1e-2, gamma: 0.1, milestones: [100, 200] });
 * lr(99); // 0.01
 * lr(100); // 0.001
 */
export function stepLr(args: StepLrArgs): LrSchedule {
  const name = 'stepLr';
  checkOptions(name, 'args', args, STEP_LR_KEYS, 'an object');
  const initial = checkNonNegative(name, 'initial', args.initial);
  const gamma = checkPositive(name, 'gamma', args.gamma ?? 0.1);
  if ((args.every === undefined) === (args.milestones === undefined)) {
    throw new PhalanxConfigError(name, 'every / milestones', 'exactly one of the two', {
      every: args.every,
      milestones: args.milestones,
    });
  }
  const last = args.steps === undefined ? Infinity : checkInteger(name, 'steps', args.steps, 1);
  let drops: (step: number) => number;
  if (args.every !== undefined) {
    const every = checkInteger(name, 'every', args.every, 1);
    drops = (step) => Math.floor(step / every);
  } else {
    const milestones = args.milestones!;
    if (
      !Array.isArray(milestones) ||
      milestones.some((m, i) => !Number.isInteger(m) || m < 1 || (i > 0 && m <= milestones[i - 1]))
    ) {
      throw new PhalanxConfigError(name, 'milestones', 'increasing integers ≥ 1', milestones);
    }
    drops = (step) => milestones.filter((m) => m <= step).length;
  }
  if (initial === 0 || gamma === 1) return () => initial;
  if (gamma > 1) {
    // The rate grows with each drop: `every` needs an end of the run, and the rate at the end must be finite.
    if (args.every !== undefined && last === Infinity) {
      throw new PhalanxConfigError(
        name,
        'steps',
        'given with every when gamma > 1 (the rate grows without end)',
        args.steps,
      );
    }
    const peak = initial * gamma ** drops(last);
    if (!Number.isFinite(peak)) {
      const expected = `a factor whose rate stays finite over the run (initial · gamma^${drops(last)} = ${peak})`;
      throw new PhalanxConfigError(name, 'gamma', expected, gamma);
    }
  }
  return (step) => initial * gamma ** drops(Math.min(step, last));
}

/** Arguments of {@link cosineLr}. */
export interface CosineLrArgs {
  /** Learning rate at step 0 (finite, ≥ 0). Required. */
  initial: number;
  /** Number of steps of the decay (integer ≥ 1); after it the rate stays at `minimum`. Required. */
  steps: number;
  /** Final learning rate (finite, ≥ 0, ≤ `initial`). Default 0. */
  minimum?: number;
}

/**
 * Cosine decay (Loshchilov & Hutter, without restarts):
 * `lr(step) = minimum + ½(initial − minimum)(1 + cos(π · min(step, steps) / steps))`.
 *
 * @example
 * const lr = cosineLr({ initial: 1e-3, steps: 1000 });
 * lr(0); // 0.001
 * lr(500); // 0.0005
 * lr(1000); // 0
 */
export function cosineLr(args: CosineLrArgs): LrSchedule {
  const name = 'cosineLr';
  checkOptions(name, 'args', args, COSINE_LR_KEYS, 'an object');
  const initial = checkNonNegative(name, 'initial', args.initial);
  const steps = checkInteger(name, 'steps', args.steps, 1);
  const minimum = checkNonNegative(name, 'minimum', args.minimum ?? 0);
  if (minimum > initial) throw new PhalanxConfigError(name, 'minimum', `a number ≤ initial (${initial})`, minimum);
  return (step) => minimum + 0.5 * (initial - minimum) * (1 + Math.cos((Math.PI * Math.min(step, steps)) / steps));
}

/** Arguments of {@link exponentialLr}. */
export interface ExponentialLrArgs {
  /** Learning rate at step 0 (finite, ≥ 0). Required. */
  initial: number;
  /** Factor per `every` steps (finite, > 0; < 1 decays). Required. */
  gamma: number;
  /** Steps per factor `gamma` (finite, > 0): `gamma^(step / every)`, continuous. Default 1. */
  every?: number;
  /** Lower bound of the rate (finite, ≥ 0). Default 0. */
  minimum?: number;
  /**
   * Length of the run (integer ≥ 1): later steps keep the rate of step `steps`. Required when the rate
   * grows (`gamma > 1`, `initial > 0`), whose rates would otherwise overflow to Infinity. Default: endless.
   */
  steps?: number;
}

/**
 * Exponential decay (PyTorch's `ExponentialLR` for `every = 1`, TensorFlow's `ExponentialDecay`):
 * `lr(step) = max(minimum, initial · gamma^(min(step, steps) / every))`.
 *
 * Every rate is finite: a decaying rate (`gamma ≤ 1`) stays in `[minimum, max(minimum, initial)]` (also
 * for an `every` so small that `step / every` overflows), and a growing one (`gamma > 1`) needs `steps`,
 * with `initial · gamma^(steps / every)` finite — else a `PhalanxConfigError` here, not mid-training.
 *
 * @example
 * const lr = exponentialLr({ initial: 1e-3, gamma: 0.5, every: 1000 });
 * lr(1000); // 0.0005
 * lr(1500); // ≈ 0.000354
 */
export function exponentialLr(args: ExponentialLrArgs): LrSchedule {
  const name = 'exponentialLr';
  checkOptions(name, 'args', args, EXPONENTIAL_LR_KEYS, 'an object');
  const initial = checkNonNegative(name, 'initial', args.initial);
  const gamma = checkPositive(name, 'gamma', args.gamma);
  const every = checkPositive(name, 'every', args.every ?? 1);
  const minimum = checkNonNegative(name, 'minimum', args.minimum ?? 0);
  const last = args.steps === undefined ? Infinity : checkInteger(name, 'steps', args.steps, 1);
  // Constant rates, not computed: 1^∞ and 0 · ∞ (with a tiny `every`) would be NaN.
  if (initial === 0 || gamma === 1) return () => Math.max(minimum, initial);
  if (gamma > 1) {
    // The rate grows: the run needs an end, and the rate at it must be finite.
    if (last === Infinity) {
      throw new PhalanxConfigError(name, 'steps', 'given when gamma > 1 (the rate grows without end)', args.steps);
    }
    const peak = initial * gamma ** (last / every);
    if (!Number.isFinite(peak)) {
      const expected = `a factor whose rate stays finite over the ${last} steps (initial · gamma^(steps / every) = ${peak})`;
      throw new PhalanxConfigError(name, 'gamma', expected, gamma);
    }
  }
  return (step) => Math.max(minimum, initial * gamma ** (Math.min(step, last) / every));
}

/** Arguments of {@link polynomialLr}. */
export interface PolynomialLrArgs {
  /** Learning rate at step 0 (finite, ≥ 0). Required. */
  initial: number;
  /** Number of steps of the decay (integer ≥ 1); after it the rate stays at `minimum`. Required. */
  steps: number;
  /** Exponent of the decay (finite, > 0): 1 is linear. Default 1. */
  power?: number;
  /** Final learning rate (finite, ≥ 0, ≤ `initial`). Default 0. */
  minimum?: number;
}

/**
 * Polynomial decay (PyTorch's `PolynomialLR`, TensorFlow's `PolynomialDecay`; linear for `power = 1`):
 * `lr(step) = minimum + (initial − minimum) · (1 − min(step, steps) / steps)^power`.
 *
 * @example
 * const lr = polynomialLr({ initial: 1e-3, steps: 1000, power: 2 });
 * lr(500); // 0.00025
 * lr(1000); // 0
 */
export function polynomialLr(args: PolynomialLrArgs): LrSchedule {
  const name = 'polynomialLr';
  checkOptions(name, 'args', args, POLYNOMIAL_LR_KEYS, 'an object');
  const initial = checkNonNegative(name, 'initial', args.initial);
  const steps = checkInteger(name, 'steps', args.steps, 1);
  const power = checkPositive(name, 'power', args.power ?? 1);
  const minimum = checkNonNegative(name, 'minimum', args.minimum ?? 0);
  if (minimum > initial) throw new PhalanxConfigError(name, 'minimum', `a number ≤ initial (${initial})`, minimum);
  return (step) => minimum + (initial - minimum) * (1 - Math.min(step, steps) / steps) ** power;
}

/** Arguments of {@link warmupLr}. */
export interface WarmupLrArgs {
  /** Number of warm-up steps (integer ≥ 1). Required. */
  steps: number;
  /** The schedule after warm-up (a number means constant). Required. */
  after: LrSchedule | number;
  /** Fraction of the target rate at step 0 (finite, in [0, 1]). Default 0. */
  startFactor?: number;
}

/**
 * Linear warm-up, then another schedule: for `step < steps`,
 * `lr(step) = after(steps) · (startFactor + (1 − startFactor) · step / steps)`; afterwards
 * `lr(step) = after(step)` (the wrapped schedule sees the global step).
 *
 * @example
 * const lr = warmupLr({ steps: 100, after: cosineLr({ initial: 1e-3, steps: 10_000 }) });
 * lr(0); // 0
 * lr(50); // ≈ 0.0005
 */
export function warmupLr(args: WarmupLrArgs): LrSchedule {
  const name = 'warmupLr';
  checkOptions(name, 'args', args, WARMUP_LR_KEYS, 'an object');
  const steps = checkInteger(name, 'steps', args.steps, 1);
  const after = toSchedule(name, 'after', args.after);
  const startFactor = checkNonNegative(name, 'startFactor', args.startFactor ?? 0);
  if (startFactor > 1) throw new PhalanxConfigError(name, 'startFactor', 'a number in [0, 1]', startFactor);
  return (step) => (step < steps ? after(steps) * (startFactor + ((1 - startFactor) * step) / steps) : after(step));
}

/** Arguments of {@link warmRestartsLr}. */
export interface WarmRestartsLrArgs {
  /** Length of a cycle in steps (integer ≥ 1). Required. */
  every: number;
  /**
   * One cycle's schedule, given the cycle's length in steps: called once per distinct length, and read at
   * the step within the cycle (`step − k·every`). A number means constant. Required.
   */
  cycle: (cycleSteps: number) => LrSchedule | number;
  /**
   * Length of the whole run (integer ≥ 1): its last cycle is cut to the steps left, and later steps stay in
   * it. Default: endless, every cycle `every` steps long.
   */
  steps?: number;
  /**
   * Cycle k runs at `factor^k` × the cycle's rates (finite, ≥ 0). Default 1 (every cycle restarts at its
   * peak). Above 1 the rates grow from cycle to cycle: then `steps` is required, and every rate of the run
   * must be finite.
   */
  factor?: number;
}

/**
 * Warm restarts (SGDR, Loshchilov & Hutter): the run is cut into cycles of `every` steps, and cycle
 * `k = ⌊step / every⌋` repeats the schedule `cycle` on its own, scaled by `factor^k`:
 * `lr(step) = factor^k · cycle(L_k)(step − k·every)`, `L_k = min(every, steps − k·every)`.
 * So the first `every` steps are exactly those of `cycle(every)` alone, and a run continued with a further
 * cycle keeps every rate it has already used.
 *
 * With `factor ≤ 1` every rate is finite when the cycle's are. With `factor > 1` the rates grow, so the
 * run must have an end (`steps`), and the rates of steps 0 … `steps` are all computed here (each distinct
 * cycle once, ≤ 2·`every` + 1 calls): one that is not finite (e.g. `factor^k` overflowing) is a
 * `PhalanxConfigError` now rather than mid-training.
 *
 * @example
 * const lr = warmRestartsLr({
 *   every: 1000,
 *   steps: 1500,
 *   factor: 0.5,
 *   cycle: (n) => warmupLr({ steps: 100, after: cosineLr({ initial: 1e-3, steps: n }) }),
 * });
 * lr(999); // ≈ 0 (the end of the first cosine)
 * lr(1100); // ≈ 0.000452: half the peak, ⅕ into the 500-step last cycle's cosine (½ · ½(1 + cos(π/5)) · 1e-3)
 */
export function warmRestartsLr(args: WarmRestartsLrArgs): LrSchedule {
  const name = 'warmRestartsLr';
  checkOptions(name, 'args', args, WARM_RESTARTS_LR_KEYS, 'an object');
  const every = checkInteger(name, 'every', args.every, 1);
  const steps = args.steps === undefined ? undefined : checkInteger(name, 'steps', args.steps, 1);
  const factor = checkNonNegative(name, 'factor', args.factor ?? 1);
  if (typeof args.cycle !== 'function') {
    throw new PhalanxConfigError(name, 'cycle', 'a function cycleSteps → schedule', args.cycle);
  }
  const lastCycle = steps === undefined ? Infinity : Math.ceil(steps / every) - 1;
  const byLength = new Map<number, LrSchedule>();
  const cycleOfLength = (length: number): LrSchedule => {
    let schedule = byLength.get(length);
    if (!schedule) {
      schedule = toSchedule(name, 'cycle', args.cycle(length));
      byLength.set(length, schedule);
    }
    return schedule;
  };
  /** Cycle k of `step`, the cycle's rate there, and the rate of the run (the cycle's × `factor^k`). */
  const at = (step: number): { k: number; rate: number; scaled: number } => {
    const k = Math.min(lastCycle, Math.floor(step / every));
    const length = steps === undefined ? every : Math.min(every, steps - k * every);
    const rate = cycleOfLength(length)(step - k * every);
    return { k, rate, scaled: k === 0 ? rate : factor ** k * rate };
  };
  if (factor > 1) {
    if (steps === undefined) {
      throw new PhalanxConfigError(name, 'steps', 'given when factor > 1 (the rates grow without end)', steps);
    }
    // The scale factor^k grows with k: the last full cycle and the (maybe shorter) last one hold every
    // rate of the run at its largest.
    const lastStart = lastCycle * every;
    for (let step = Math.max(0, lastStart - every); step <= steps; step++) {
      const { k, rate, scaled } = at(step);
      if (!Number.isFinite(rate)) {
        throw new PhalanxConfigError(name, 'cycle', `finite rates (step ${step - k * every} of cycle ${k})`, rate);
      }
      if (!Number.isFinite(scaled)) {
        const expected = `a factor whose rates stay finite over the ${steps} steps (factor^${k} · ${rate} = ${scaled} at step ${step})`;
        throw new PhalanxConfigError(name, 'factor', expected, factor);
      }
    }
  }
  return (step) => at(step).scaled;
}

/**
 * A number becomes {@link constantLr}; a function is returned as is (anything else is a
 * `PhalanxConfigError` naming `component` and `argument`).
 *
 * @example
 * toSchedule('Trainer', 'lr', 1e-3)(500); // 0.001
 */
export function toSchedule(component: string, argument: string, lr: LrSchedule | number): LrSchedule {
  if (typeof lr === 'number') {
    checkNonNegative(component, argument, lr);
    return constantLr(lr);
  }
  if (typeof lr !== 'function')
    throw new PhalanxConfigError(component, argument, 'a number or a function step → lr', lr);
  return lr;
}
