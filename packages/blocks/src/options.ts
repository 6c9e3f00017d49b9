/**
 * The one prologue of the block builders that take an options object. Internal: not exported from the
 * package.
 */
import { checkOptions } from '@phalanx/errors';

/**
 * Returns `options` if it is an options object whose keys are all in `known`; a `PhalanxConfigError` of
 * `component` otherwise (`null`, a primitive, an array, or a misspelt key, which would otherwise be
 * ignored and its default used). `shape` lists the options in the error, e.g. `'{outChannels, name}'`.
 *
 * @internal
 */
export function checkBuilderOptions<T>(
  component: string,
  options: T,
  known: Readonly<Record<string, true>>,
  shape: string,
): T & object {
  return checkOptions(component, 'options', options, known, `an options object ${shape}`);
}
