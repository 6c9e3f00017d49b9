/**
 * Errors of `@phalanx/data`: subclasses of the shared `@phalanx/errors` classes, so
 * `error instanceof PhalanxConfigError` (or `PhalanxFileError`) holds for them as for every other
 * Phalanx package, while their own names and message form stay: received values are rendered compactly
 * (`[0,1]`, `an array of length 500`), since data options may hold whole sample lists.
 */
import { checkInteger, checkOneOf, describeCompact, PhalanxConfigError, PhalanxFileError } from '@phalanx/errors';

/**
 * An option has a value the component cannot use:
 * `augment: outputSize must be an integer ≥ 16, but received 4.`
 * A {@link PhalanxConfigError} whose message renders the received value with `describeCompact`.
 */
export class PhalanxDataConfigError extends PhalanxConfigError {
  /** Received values are rendered compactly (`[0,1]`, `an array of length 500`). */
  static override readonly renderReceived: (value: unknown) => string = describeCompact;

  /** Always `'PhalanxDataConfigError'`, for tests on `error.name`. */
  override readonly name: string = 'PhalanxDataConfigError';
}

/**
 * A data file is missing or its content is malformed; the message names the file and the field:
 * `anno_training.pickle: frame 2 'K' is missing`. A {@link PhalanxFileError}.
 */
export class PhalanxDataFileError extends PhalanxFileError {
  /** Always `'PhalanxDataFileError'`, for tests on `error.name`. */
  override readonly name: string = 'PhalanxDataFileError';
}

/**
 * Renders a received value for an error message: `describeCompact` of `@phalanx/errors`, kept under
 * this name for existing callers.
 */
export const describeValue: (value: unknown) => string = describeCompact;

/** Returns `value` if it is an integer ≥ `min`; throws a {@link PhalanxDataConfigError} otherwise. */
export function checkInt(component: string, argument: string, value: unknown, min: number): number {
  return checkInteger(component, argument, value, min, PhalanxDataConfigError);
}

/** Returns `value` if it is one of the strings `options`; throws a {@link PhalanxDataConfigError} otherwise. */
export function checkChoice<T extends string>(
  component: string,
  argument: string,
  value: unknown,
  options: readonly T[],
): T {
  return checkOneOf(component, argument, value, options, PhalanxDataConfigError);
}
