/**
 * The path check of the functions that read or write checkpoints and logs (internal: not exported from the
 * package). A path that is not a string reached `node:path` or `node:fs` as a raw `TypeError`, and an empty
 * one silently meant the working directory.
 */
import { describeCompact, PhalanxConfigError } from '@phalanx/errors';

/**
 * Returns `value` if it is a non-empty string without a NUL character (which `node:fs` refuses); throws a
 * `PhalanxConfigError` of `component` naming `argument` otherwise:
 * `readTrainerState: dir must be a folder path (a non-empty string), but received null.`
 *
 * @param what - what the path names, in the error: `'a folder path'` or `'a file path'`.
 * @example
 * const dir = checkPath('readTrainerState', 'dir', 'runs/a/step-00000100', 'a folder path');
 */
export function checkPath(
  component: string,
  argument: string,
  value: unknown,
  what: 'a folder path' | 'a file path',
): string {
  if (typeof value !== 'string' || value === '' || value.includes('\0')) {
    throw new PhalanxConfigError(component, argument, `${what} (a non-empty string)`, value, describeCompact);
  }
  return value;
}
