/**
 * The example's integer command-line flags, checked one way.
 */

/**
 * The integer value of flag `--name` given as `value` (a string from `parseArgs`), or `fallback` when it is
 * absent. Throws `--name must be an integer ≥ min, but received 'value'.` for anything else.
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
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new Error(`--${name} must be an integer ≥ ${min}, but received '${value}'.`);
  return n;
}
