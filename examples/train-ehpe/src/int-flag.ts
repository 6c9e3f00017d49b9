/**
 * The example's integer command-line flags, checked one way.
 */

/** A bad flag value: the command line reports it as a usage error (its message alone, exit code 2). */
export class FlagError extends Error {
  override name = 'FlagError';
}

/**
 * The integer value of flag `--name` given as `value` (a string from `parseArgs`), or `fallback` when it is
 * absent. Throws a {@link FlagError} `--name must be an integer ≥ min, but received 'value'.` for anything else
 * (an empty value too: `Number('')` would read it as 0).
 *
 * @example
 * ```ts
 * import { intFlag } from './int-flag';
 * intFlag('test-size', undefined, 128); // 128
 * intFlag('test-size', '1024', 128); // 1024
 * intFlag('precise-bn', '1.5', 0, 0); // throws: --precise-bn must be an integer ≥ 0, but received '1.5'.
 * ```
 */
export function intFlag(name: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = value.trim() === '' ? NaN : Number(value);
  if (!Number.isSafeInteger(n) || n < min)
    throw new FlagError(`--${name} must be an integer ≥ ${min}, but received '${value}'.`);
  return n;
}
