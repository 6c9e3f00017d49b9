/**
 * The Learnable Groups temperature schedule's numbers, shared by the schedules and by
 * {@link ConcreteJointSelector}'s initial temperature (the schedule's start).
 */

/**
 * Defaults of {@link stepTemperature}: the paper's schedule, τ from 5 down by 0.1 every 1000 steps, never
 * below 0.1. The single place these values are written.
 */
export const STEP_TEMPERATURE_DEFAULTS = Object.freeze({
  initial: 5,
  decrement: 0.1,
  every: 1000,
  minimum: 0.1,
} as const);

/** Defaults of {@link exponentialTemperature}: the same start and floor as {@link STEP_TEMPERATURE_DEFAULTS}. */
export const EXPONENTIAL_TEMPERATURE_DEFAULTS = Object.freeze({
  initial: STEP_TEMPERATURE_DEFAULTS.initial,
  minimum: STEP_TEMPERATURE_DEFAULTS.minimum,
} as const);
