/**
 * Errors of `@phalanx/data`, in the message form of the rest of Phalanx
 * (`Component: argument must be expected, but received value.`). Kept local so that the data package
 * depends on nothing but tfjs.
 */

/** An option has a value the component cannot use. */
export class PhalanxDataConfigError extends Error {
  override readonly name = 'PhalanxDataConfigError';
  constructor(
    readonly component: string,
    readonly argument: string,
    readonly expected: string,
    readonly received: unknown,
  ) {
    super(`${component}: ${argument} must be ${expected}, but received ${describeValue(received)}.`);
  }
}

/** A data file is missing or its content is malformed; the message names the file and the field. */
export class PhalanxDataFileError extends Error {
  override readonly name = 'PhalanxDataFileError';
  constructor(
    /** Path of the offending file. */
    readonly file: string,
    /** The field (or entry) that is wrong, e.g. `entry 3` or `frame 7 'uv_vis'`. */
    readonly field: string,
    /** What is wrong with it. */
    readonly problem: string,
  ) {
    super(`${file}: ${field} ${problem}`);
  }
}

/** Renders a received value for an error message. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return value.length > 8 ? `an array of length ${value.length}` : JSON.stringify(value);
  if (typeof value === 'object' && value !== null) {
    try {
      const s = JSON.stringify(value);
      return s.length > 80 ? `${s.slice(0, 77)}...` : s;
    } catch {
      return String(value);
    }
  }
  return String(value);
}

/** Throws unless `value` is an integer ≥ `min`. */
export function checkInt(component: string, argument: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new PhalanxDataConfigError(component, argument, `an integer ≥ ${min}`, value);
  }
  return value;
}

/** Throws unless `value` is one of `options`. */
export function checkChoice<T extends string>(
  component: string,
  argument: string,
  value: unknown,
  options: readonly T[],
): T {
  if (typeof value !== 'string' || !(options as readonly string[]).includes(value)) {
    throw new PhalanxDataConfigError(component, argument, `one of ${options.map((o) => `'${o}'`).join(', ')}`, value);
  }
  return value as T;
}
