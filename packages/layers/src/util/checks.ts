/**
 * Argument checks shared by the layers: argument objects, size bounds, dropout rates. Each throws a
 * `PhalanxConfigError` that names the component and the argument.
 */
import { checkInteger, describe, PhalanxConfigError } from '@phalanx/errors';

/**
 * The largest value a size argument may take (units, heads, joints, groups, depth bins, an output height or
 * width): 2²⁴ = 16 777 216, the largest range in which every integer is exact in float32. Larger sizes are
 * refused at construction instead of failing in an allocation.
 */
export const MAX_SIZE = 2 ** 24;

/**
 * The most elements one weight, or one map whose size the configuration fixes, may have: 2²⁸ = 268 435 456
 * (1 GiB of float32, the capacity of a 16384 × 16384 WebGL texture). Larger ones are refused at construction
 * (or at `build`, where the size depends on the input) instead of failing in an allocation.
 */
export const MAX_ELEMENTS = 2 ** 28;

/**
 * Returns `args` if it is an object (a layer's or a function's argument object); throws a
 * `PhalanxConfigError` naming `component` for `null`, `undefined`, arrays and primitives, where reading a
 * field would otherwise throw a `TypeError`.
 *
 * @example
 * const options: { heads?: number } | null = null;
 * checkArgs('dynamicEdgeGATCore', 'options', options); // throws: options must be an object, but received null
 */
export function checkArgs<T>(component: string, argument: string, args: T): T & object {
  if (typeof args !== 'object' || args === null || Array.isArray(args)) {
    throw new PhalanxConfigError(component, argument, 'an object', args);
  }
  return args as T & object;
}

/**
 * Returns `value` if it is an integer in `[min, MAX_SIZE]`. Values below `min` (or not integers) get the
 * usual `an integer ≥ min` message; values above {@link MAX_SIZE} get `an integer in [min, 16777216]`.
 *
 * @example
 * checkSize('DynamicEdgeGAT', 'units', 64, 1); // 64
 * checkSize('DynamicEdgeGAT', 'units', 2 ** 25, 1); // throws: an integer in [1, 16777216]
 */
export function checkSize(component: string, argument: string, value: unknown, min: number): number {
  checkInteger(component, argument, value, min);
  if ((value as number) > MAX_SIZE) {
    throw new PhalanxConfigError(component, argument, `an integer in [${min}, ${MAX_SIZE}] (2^24)`, value);
  }
  return value as number;
}

/**
 * Throws unless a tensor of `shape` has at most {@link MAX_ELEMENTS} elements. `argument` names the
 * weight or map, e.g. `'kernel [F, K·U]'`.
 *
 * @example
 * checkElements('DualBranchFusion', 'structuralWeight [J, J]', [21, 21]); // fine
 * checkElements('DualBranchFusion', 'structuralWeight [J, J]', [20000, 20000]); // throws
 */
export function checkElements(component: string, argument: string, shape: readonly number[]): void {
  const count = shape.reduce((product, size) => product * size, 1);
  if (count > MAX_ELEMENTS) {
    throw new PhalanxConfigError(
      component,
      argument,
      `of at most ${MAX_ELEMENTS} (2^28) elements`,
      `${describe([...shape])}: ${count} elements`,
    );
  }
}

/**
 * Returns `value` if it is a dropout rate: a number in `[0, 1)`.
 *
 * @example
 * checkRate('MultiHeadAttention', 'attentionDropout', 0.1); // 0.1
 * checkRate('MultiHeadAttention', 'attentionDropout', 1); // throws: a number in [0, 1)
 */
export function checkRate(component: string, argument: string, value: unknown): number {
  if (typeof value !== 'number' || !(value >= 0 && value < 1)) {
    throw new PhalanxConfigError(component, argument, 'a number in [0, 1)', value);
  }
  return value;
}
