/**
 * Errors thrown by `@phalanx/pose` for bad arguments or bad input. They carry the same names and the
 * same message form as the errors of `@phalanx/layers` (which this package does not import, so that
 * it needs no `@tensorflow/tfjs-layers`):
 * `KeypointEvaluator: pred must be an array [N][J][D] with the shape of gt, but received [4, 21, 2].`
 */

/** An argument has a value the function or class cannot use. */
export class PhalanxConfigError extends Error {
  override readonly name = 'PhalanxConfigError';
  constructor(
    /** The component (class, function) that rejected the value. */
    readonly component: string,
    /** The offending argument. */
    readonly argument: string,
    /** What would have been accepted. */
    readonly expected: string,
    /** What was given. */
    readonly received: unknown,
  ) {
    super(`${component}: ${argument} must be ${expected}, but received ${describeValue(received)}.`);
  }
}

/** An input array or tensor has a shape or count the component cannot use. */
export class PhalanxShapeError extends Error {
  override readonly name = 'PhalanxShapeError';
  constructor(
    /** The component (class, function) that rejected the input. */
    readonly component: string,
    /** The offending input. */
    readonly argument: string,
    /** The shape that would have been accepted. */
    readonly expected: string,
    /** The shape (or value) that was given. */
    readonly received: unknown,
  ) {
    super(`${component}: ${argument} must be ${expected}, but received ${describeValue(received)}.`);
  }
}

/** Renders a received value for an error message: shapes as `[2, 3]`, strings quoted. */
function describeValue(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (Array.isArray(value))
    return `[${value.map((v) => (Array.isArray(v) ? describeValue(v) : String(v))).join(', ')}]`;
  if (value === undefined) return 'undefined';
  if (typeof value === 'object' && value !== null) {
    try {
      return JSON.stringify(value);
    } catch {
      return String(value);
    }
  }
  return String(value);
}

/** Throws unless `value` is an integer ≥ `min`. */
export function checkInteger(component: string, argument: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new PhalanxConfigError(component, argument, `an integer ≥ ${min}`, value);
  }
  return value;
}

/** Throws unless `value` is a finite number > 0. */
export function checkPositive(component: string, argument: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new PhalanxConfigError(component, argument, 'a finite number > 0', value);
  }
  return value;
}

/** Throws unless `value` is a finite number. */
export function checkFinite(component: string, argument: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new PhalanxConfigError(component, argument, 'a finite number', value);
  }
  return value;
}
