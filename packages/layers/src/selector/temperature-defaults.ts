/**
 * The Learnable Groups temperature schedule's numbers, shared by the schedules and by
 * {@link ConcreteJointSelector}'s initial temperature (the schedule's start).
 */

/**
 * Defaults of {@link stepTemperature}: the paper's schedule, τ from 5 down by 0.1 every 1000 steps, never
 * below 0.1. The single place these values are written.
 */
export const STEP_TEMPERATURE_DEFAULTS = Object.freeze({
  /** {@link StepTemperatureArgs.initial} */
  initial: 5,
  /** {@link StepTemperatureArgs.decrement} */
  decrement: 0.1,
  /** {@link StepTemperatureArgs.every} */
  every: 1000,
  /** {@link StepTemperatureArgs.minimum} */
  minimum: 0.1,
} as const);

/** Defaults of {@link exponentialTemperature}: the same start and floor as {@link STEP_TEMPERATURE_DEFAULTS}. */
export const EXPONENTIAL_TEMPERATURE_DEFAULTS = Object.freeze({
  /** {@link ExponentialTemperatureArgs.initial} */
  initial: STEP_TEMPERATURE_DEFAULTS.initial,
  /** {@link ExponentialTemperatureArgs.minimum} */
  minimum: STEP_TEMPERATURE_DEFAULTS.minimum,
} as const);
