/**
 * How the example's commands report mistakes: a bad command line is a usage error (one line on stderr, exit
 * code 2), a named error of the library (a damaged file, a refused setting) one line `Name: message`, exit code 1.
 */
import { parseArgs } from 'node:util';
import { PhalanxConfigError, PhalanxFileError } from '@phalanx/errors';

/**
 * A mistake on the command line (an unknown flag, a missing or bad value): {@link readCommandLine} prints its
 * message as one line and ends the process with exit code 2.
 */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * Runs `read` (the parsing and checking of a command line); a {@link UsageError} it throws is printed as
 * `error: <message>` alone on stderr (no stack trace) and ends the process with exit code 2. Other errors pass.
 */
export function readCommandLine<T>(read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`error: ${error.message}`);
    process.exit(2);
  }
}

/** `Number(value)`, but NaN for a blank string (`Number('')` is 0: an empty value is not a number). */
export function numberOf(value: unknown): number {
  return typeof value === 'string' && value.trim() === '' ? NaN : Number(value);
}

/** An integer flag ≥ `min` (or the fallback when absent). */
export function intFlag(name: string, value: unknown, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = numberOf(value);
  if (!Number.isSafeInteger(n) || n < min)
    throw new UsageError(`--${name} must be an integer ≥ ${min}, but received '${String(value)}'.`);
  return n;
}

/** `parseArgs` configuration (its argument). */
export type ParseArgsConfig = NonNullable<Parameters<typeof parseArgs>[0]>;

/**
 * `parseArgs(config)`, its own errors (an unknown flag, a missing value, a positional where none is taken)
 * thrown as a {@link UsageError} of one line.
 */
export function parseCommandLine<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      // parseArgs words some mistakes over several lines: one line, as every usage error.
      throw new UsageError((error as Error).message.replace(/\s*\n\s*/g, ' '));
    }
    throw error;
  }
}

/**
 * Whether `error` is one of the library's named errors (`PhalanxFileError`, `PhalanxConfigError`, …): by class,
 * or by name for one a data-parallel replica threw, which reaches the main thread as an `Error` of that name.
 */
export function isNamedError(error: unknown): error is Error {
  if (error instanceof PhalanxConfigError || error instanceof PhalanxFileError) return true;
  return error instanceof Error && /^Phalanx\w*Error$/.test(error.name);
}

/**
 * Ends a command that failed: a {@link UsageError} as `error: <message>` with exit code 2, a named error
 * ({@link isNamedError}) as `Name: message` with exit code 1, anything else with its stack
 * trace and exit code 1.
 */
export function exitOnError(error: unknown): never {
  if (error instanceof UsageError) {
    console.error(`error: ${error.message}`);
    process.exit(2);
  }
  console.error(isNamedError(error) ? `${error.name}: ${error.message}` : error);
  process.exit(1);
}
