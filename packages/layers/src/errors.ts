/**
 * Errors thrown by Phalanx for bad configuration or bad input. Every message names the component,
 * the argument, what was expected and what was received, e.g.
 * `ConcreteJointSelector: numGroups must be an integer ≥ 2, but received 1.`
 */

/** A configuration argument has a value the component cannot use. */
export class PhalanxConfigError extends Error {
  override readonly name = 'PhalanxConfigError';
  constructor(
    /** The component (layer class, function) that rejected the value. */
    readonly component: string,
    /** The offending argument. */
    readonly argument: string,
    /** What would have been accepted. */
    readonly expected: string,
    /** What was given. */
    readonly received: unknown,
  ) {
    super(`${component}: ${argument} must be ${expected}, but received ${describe(received)}.`);
  }
}

/** An input tensor (or list of tensors) has a shape or count the component cannot use. */
export class PhalanxShapeError extends Error {
  override readonly name = 'PhalanxShapeError';
  constructor(
    readonly component: string,
    readonly argument: string,
    readonly expected: string,
    readonly received: unknown,
  ) {
    super(`${component}: ${argument} must be ${expected}, but received ${describe(received)}.`);
  }
}

/** Renders a received value for an error message: shapes as `[2, 3]`, strings quoted. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (Array.isArray(value)) return `[${value.map((v) => (Array.isArray(v) ? describe(v) : String(v))).join(', ')}]`;
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

/** Throws unless `value` is one of `options`. */
export function checkOneOf<T extends string>(
  component: string,
  argument: string,
  value: unknown,
  options: readonly T[],
): T {
  if (typeof value !== 'string' || !(options as readonly string[]).includes(value)) {
    throw new PhalanxConfigError(component, argument, `one of ${options.map((o) => `'${o}'`).join(', ')}`, value);
  }
  return value as T;
}

/** Throws unless `value` is a boolean. */
export function checkBoolean(component: string, argument: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new PhalanxConfigError(component, argument, 'a boolean', value);
  return value;
}
