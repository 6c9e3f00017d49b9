/**
 * Named errors of `@phalanx/losses`. They follow the message form of `@phalanx/layers`
 * (`component: argument must be expected, but received value.`) and carry the same `name`s
 * (`PhalanxShapeError`, `PhalanxConfigError`), so callers can test `error.name` whichever package
 * threw. The classes live here, not imported from `@phalanx/layers`, so that the losses need only
 * `@tensorflow/tfjs-core` (no tfjs-layers, no layer registrations).
 */

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

/** An option of a loss has a value the loss cannot use. */
export class PhalanxConfigError extends Error {
  override readonly name = 'PhalanxConfigError';
  constructor(
    /** The loss that rejected the value. */
    readonly component: string,
    /** The offending option. */
    readonly argument: string,
    /** What would have been accepted. */
    readonly expected: string,
    /** What was given. */
    readonly received: unknown,
  ) {
    super(`${component}: ${argument} must be ${expected}, but received ${describeValue(received)}.`);
  }
}

/** An input tensor of a loss has a shape the loss cannot use. */
export class PhalanxShapeError extends Error {
  override readonly name = 'PhalanxShapeError';
  constructor(
    /** The loss that rejected the tensor. */
    readonly component: string,
    /** The offending argument. */
    readonly argument: string,
    /** The shape that would have been accepted. */
    readonly expected: string,
    /** The shape that was given. */
    readonly received: unknown,
  ) {
    super(`${component}: ${argument} must be ${expected}, but received ${describeValue(received)}.`);
  }
}
