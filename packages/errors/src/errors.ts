/**
 * The named errors every Phalanx package throws, and the argument checks that throw them. One copy for
 * the whole library, so that `error instanceof PhalanxConfigError` holds whichever package threw.
 *
 * Argument errors read `Component: argument must be <expected>, but received <value>.`, e.g.
 * `ConcreteJointSelector: numGroups must be an integer ≥ 2, but received 1.`; file errors read
 * `<file>: <field> <problem>`, e.g. `anno_training.pickle: frame 2 'K' is missing`.
 */

/**
 * Renders a received value for an error message: strings quoted (`'mean'`), arrays and shapes as
 * `[2, 3]` (nested arrays alike, `null` for an unknown dimension, objects in them as JSON), other objects
 * as JSON, the rest with `String`.
 *
 * @example
 * ```ts
 * describe([null, 21, 3]); // '[null, 21, 3]'
 * describe('max'); // "'max'"
 * ```
 */
export function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (Array.isArray(value)) return `[${value.map(describeItem).join(', ')}]`;
  if (value === undefined) return 'undefined';
  if (typeof value === 'object' && value !== null) return json(value, Infinity);
  return String(value);
}

/** An item of an array in {@link describe}: arrays as `[…]`, objects as JSON, the rest with `String`. */
function describeItem(item: unknown): string {
  if (Array.isArray(item)) return describe(item);
  if (typeof item === 'object' && item !== null) return json(item, Infinity);
  return String(item);
}

/**
 * Renders a received value compactly, for values that may be large (lists of samples, options
 * objects): strings quoted, arrays of up to 8 items as JSON (`[0,1]`), longer ones as
 * `an array of length N`, other objects as JSON cut to 80 characters, the rest with `String`.
 *
 * @example
 * ```ts
 * describeCompact([0, 1]); // '[0,1]'
 * describeCompact(new Array(100).fill(0)); // 'an array of length 100'
 * ```
 */
export function describeCompact(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return value.length > 8 ? `an array of length ${value.length}` : JSON.stringify(value);
  if (typeof value === 'object' && value !== null) return json(value, 80);
  return String(value);
}

/** `JSON.stringify(value)` cut to `max` characters (`...` included), or `String(value)` if it cannot be. */
function json(value: object, max: number): string {
  try {
    const s = JSON.stringify(value);
    return s.length > max ? `${s.slice(0, max - 3)}...` : s;
  } catch {
    return String(value);
  }
}

/**
 * What {@link PhalanxConfigError} and {@link PhalanxShapeError} share: a component rejected the value
 * of one argument. The message names the component, the argument, what was expected and what was
 * received: `Component: argument must be <expected>, but received <value>.` Catch this class to catch
 * both.
 */
export abstract class PhalanxArgumentError extends Error {
  /**
   * How `received` is rendered in the message by default: {@link describe}. A subclass may replace it;
   * a single error may pass its own renderer (e.g. {@link describeCompact} for values that may be
   * large). The `received` field keeps the raw value either way.
   */
  static readonly renderReceived: (value: unknown) => string = describe;

  constructor(
    /** The component (layer class, function, loss) that rejected the value. */
    readonly component: string,
    /** The offending argument or input. */
    readonly argument: string,
    /** What would have been accepted, e.g. `an integer ≥ 2` or `of rank 3 [B, J, F]`. */
    readonly expected: string,
    /** What was given (the raw value, or the shape of the input). */
    readonly received: unknown,
    /**
     * How `received` is rendered in the message; default the class's `renderReceived`
     * ({@link describe}). Pass {@link describeCompact} for values that may be large (sample lists,
     * options objects): `[0,1]`, `an array of length 500`.
     */
    render: (value: unknown) => string = new.target.renderReceived,
  ) {
    super(`${component}: ${argument} must be ${expected}, but received ${render(received)}.`);
  }
}

/**
 * A configuration argument (constructor option, function option) has a value the component cannot
 * use. The message names the component, the argument, what was expected and what was received.
 *
 * @example
 * ```ts
 * throw new PhalanxConfigError('ConcreteJointSelector', 'numGroups', 'an integer ≥ 2', 1);
 * // ConcreteJointSelector: numGroups must be an integer ≥ 2, but received 1.
 * ```
 */
export class PhalanxConfigError extends PhalanxArgumentError {
  /** Always `'PhalanxConfigError'`, for tests on `error.name`. */
  override readonly name: string = 'PhalanxConfigError';
}

/**
 * An input tensor (or list of tensors, or array) has a shape or count the component cannot use. The
 * message names the component, the input, the expected shape and the received one.
 *
 * @example
 * ```ts
 * throw new PhalanxShapeError('DynamicEdgeGAT', 'input', 'of rank 3 [B, J, F]', [null, 21]);
 * // DynamicEdgeGAT: input must be of rank 3 [B, J, F], but received [null, 21].
 * ```
 */
export class PhalanxShapeError extends PhalanxArgumentError {
  /** Always `'PhalanxShapeError'`, for tests on `error.name`. */
  override readonly name: string = 'PhalanxShapeError';
}

/**
 * A file is missing or its content is malformed. The message names the file, then the field (or
 * entry) and what is wrong with it: `<file>: <field> <problem>`.
 *
 * @example
 * ```ts
 * throw new PhalanxFileError('rhd/anno_training.pickle', "frame 2 'K'", 'is missing');
 * // rhd/anno_training.pickle: frame 2 'K' is missing
 * ```
 */
export class PhalanxFileError extends Error {
  /** Always `'PhalanxFileError'`, for tests on `error.name`. */
  override readonly name: string = 'PhalanxFileError';

  constructor(
    /** Path (or name) of the offending file. */
    readonly file: string,
    /** The field or entry that is wrong, e.g. `entry 3` or `frame 7 'uv_vis'`. */
    readonly field: string,
    /** What is wrong with it, as a predicate: `is missing`, `must be a list of numbers, but is string`. */
    readonly problem: string,
  ) {
    super(`${file}: ${field} ${problem}`);
  }
}

/**
 * A training step produced a non-finite value (NaN or ±Infinity) — a loss or a gradient norm — and was
 * not applied. The message names the component, the step (1-based: the step that would have completed)
 * and every value of the step, the non-finite ones first:
 * `Trainer: step 12 has a non-finite loss (NaN); gradNorm 3.5. The step was not applied.`
 *
 * @example
 * ```ts
 * throw new PhalanxNonFiniteError('Trainer', 12, { loss: Number.NaN, gradNorm: 3.5 });
 * // Trainer: step 12 has a non-finite loss (NaN); gradNorm 3.5. The step was not applied.
 * ```
 */
export class PhalanxNonFiniteError extends Error {
  /** Always `'PhalanxNonFiniteError'`, for tests on `error.name`. */
  override readonly name: string = 'PhalanxNonFiniteError';

  constructor(
    /** The component whose step failed, e.g. `Trainer`. */
    readonly component: string,
    /** The step (1-based) that produced the non-finite value. */
    readonly step: number,
    /** The values the step measured, e.g. `{ loss: NaN, gradNorm: 3.5 }`; at least one is not finite. */
    readonly values: Readonly<Record<string, number>>,
  ) {
    const entries = Object.entries(values);
    const bad = entries.filter(([, v]) => !Number.isFinite(v));
    const good = entries.filter(([, v]) => Number.isFinite(v));
    const what = bad.map(([k, v]) => `${k} (${v})`).join(' and ') || 'value';
    const rest = good.length > 0 ? `; ${good.map(([k, v]) => `${k} ${v}`).join(', ')}` : '';
    super(`${component}: step ${step} has a non-finite ${what}${rest}. The step was not applied.`);
  }
}

/**
 * A constructor of a configuration error with the argument list of {@link PhalanxConfigError}: what the
 * `check*` helpers throw. Pass a subclass to have them throw it instead. `render`, when a helper passes
 * it, is how the received value should be shown (a constructor may ignore it).
 */
export type ConfigErrorClass = new (
  component: string,
  argument: string,
  expected: string,
  received: unknown,
  render?: (value: unknown) => string,
) => Error;

/**
 * Returns `value` if it is an integer ≥ `min`; throws `an integer ≥ <min>` otherwise.
 *
 * @param errorClass - what to throw; default {@link PhalanxConfigError}.
 * @example
 * ```ts
 * const args: { numGroups?: number } = { numGroups: 3 };
 * const numGroups = checkInteger('ConcreteJointSelector', 'numGroups', args.numGroups, 2);
 * ```
 */
export function checkInteger(
  component: string,
  argument: string,
  value: unknown,
  min: number,
  errorClass: ConfigErrorClass = PhalanxConfigError,
): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new errorClass(component, argument, `an integer ≥ ${min}`, value);
  }
  return value;
}

/**
 * Returns `value` if it is an integer in `[min, max]`; throws `an integer in [<min>, <max>]` otherwise.
 * For sizes whose value allocates: a model built with a size of 10⁹ would otherwise build until out of
 * memory.
 *
 * @param errorClass - what to throw; default {@link PhalanxConfigError}.
 * @example
 * ```ts
 * const numGroups = checkIntegerIn('createLearnableGroups', 'numGroups', 3, 2, 21); // 3
 * checkIntegerIn('createLearnableGroups', 'numGroups', 1e9, 2, 21); // throws: an integer in [2, 21]
 * ```
 */
export function checkIntegerIn(
  component: string,
  argument: string,
  value: unknown,
  min: number,
  max: number,
  errorClass: ConfigErrorClass = PhalanxConfigError,
): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new errorClass(component, argument, `an integer in [${min}, ${max}]`, value);
  }
  return value;
}

/**
 * Returns `value` if it is a finite number > 0; throws `a finite number > 0` otherwise.
 *
 * @param errorClass - what to throw; default {@link PhalanxConfigError}.
 * @example
 * ```ts
 * const args: { scale?: number } = {};
 * const scale = checkPositive('MyLayer', 'scale', args.scale ?? 1);
 * ```
 */
export function checkPositive(
  component: string,
  argument: string,
  value: unknown,
  errorClass: ConfigErrorClass = PhalanxConfigError,
): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new errorClass(component, argument, 'a finite number > 0', value);
  }
  return value;
}

/**
 * Returns `value` if it is a finite number; throws `a finite number` otherwise.
 *
 * @param errorClass - what to throw; default {@link PhalanxConfigError}.
 * @example
 * ```ts
 * const args: { selfWeight?: number } = { selfWeight: 0.8 };
 * const selfWeight = checkFinite('GroupFusion', 'selfWeight', args.selfWeight ?? 0.9);
 * ```
 */
export function checkFinite(
  component: string,
  argument: string,
  value: unknown,
  errorClass: ConfigErrorClass = PhalanxConfigError,
): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new errorClass(component, argument, 'a finite number', value);
  }
  return value;
}

/**
 * Returns `value` if it is a finite number ≥ 0; throws `a finite number` for anything not finite and
 * `a finite number ≥ 0` for a negative number.
 *
 * @param errorClass - what to throw; default {@link PhalanxConfigError}.
 * @example
 * ```ts
 * const args: { rate?: number } = { rate: 0.01 };
 * const rate = checkNonNegative('exponentialLr', 'rate', args.rate ?? 0);
 * ```
 */
export function checkNonNegative(
  component: string,
  argument: string,
  value: unknown,
  errorClass: ConfigErrorClass = PhalanxConfigError,
): number {
  checkFinite(component, argument, value, errorClass);
  if ((value as number) < 0) throw new errorClass(component, argument, 'a finite number ≥ 0', value);
  return value as number;
}

/**
 * Returns `value` if it is one of the strings `options`; throws `one of 'a', 'b'` otherwise.
 *
 * @param errorClass - what to throw; default {@link PhalanxConfigError}.
 * @example
 * ```ts
 * const args: { mode?: string } = { mode: 'latent' };
 * const mode = checkOneOf('SoftArgmax25D', 'mode', args.mode, ['volumetric', 'latent'] as const);
 * ```
 */
export function checkOneOf<T extends string>(
  component: string,
  argument: string,
  value: unknown,
  options: readonly T[],
  errorClass: ConfigErrorClass = PhalanxConfigError,
): T {
  if (typeof value !== 'string' || !(options as readonly string[]).includes(value)) {
    throw new errorClass(component, argument, `one of ${options.map((o) => `'${o}'`).join(', ')}`, value);
  }
  return value as T;
}

/**
 * Returns `value` if it is a boolean; throws `a boolean` otherwise.
 *
 * @param errorClass - what to throw; default {@link PhalanxConfigError}.
 * @example
 * ```ts
 * const args: { useBias?: boolean } = {};
 * const useBias = checkBoolean('GroupFusion', 'useBias', args.useBias ?? true);
 * ```
 */
export function checkBoolean(
  component: string,
  argument: string,
  value: unknown,
  errorClass: ConfigErrorClass = PhalanxConfigError,
): boolean {
  if (typeof value !== 'boolean') throw new errorClass(component, argument, 'a boolean', value);
  return value;
}

/**
 * Throws if `options` has an own key outside `known`: a misspelt option (`{numGroup: 2}`) is an error,
 * not a silently used default. `known` is a record whose keys are the accepted names — write it as
 * `{…} satisfies Record<keyof Options, true>` so the compiler keeps it complete. The error names the key
 * and lists the options: `C: config.numGroup must be an option (one of numGroups, fusion), but received 2.`
 *
 * @param argument - the name of the options object in the error, e.g. `'config'`.
 * @param noun - what a key must be, in the error. Default `'an option'`.
 * @param errorClass - what to throw; default {@link PhalanxConfigError}.
 * @example
 * ```ts
 * interface Options { url?: string; handler?: object }
 * const KNOWN = { url: true, handler: true } satisfies Record<keyof Options, true>;
 * checkKnownKeys('loadModel', 'options', { url: 'model.json' }, KNOWN); // passes
 * ```
 */
export function checkKnownKeys(
  component: string,
  argument: string,
  options: object,
  known: Readonly<Record<string, true>>,
  noun = 'an option',
  errorClass: ConfigErrorClass = PhalanxConfigError,
): void {
  const unknown = Object.keys(options).find((key) => !Object.hasOwn(known, key));
  if (unknown === undefined) return;
  const expected = `${noun} (one of ${Object.keys(known).join(', ')})`;
  throw new errorClass(component, `${argument}.${unknown}`, expected, (options as Record<string, unknown>)[unknown]);
}

/**
 * Returns `value` if it is an options object: not `null`, `undefined`, an array or a primitive. Throws
 * `expected` (with the received value, compactly: {@link describeCompact}) otherwise, where reading a field would throw a `TypeError` or an
 * array would pass as "no options". For an options object with a fixed set of keys use
 * {@link checkOptions}, which also refuses a misspelt key.
 *
 * @param argument - the name of the options object in the error, e.g. `'options'`.
 * @param expected - what `value` must be, in the error, e.g. `'an options object {maxPixels?}'`.
 * @param errorClass - what to throw; default {@link PhalanxConfigError}.
 * @example
 * ```ts
 * const options: { seed?: number } = checkOptionsObject('sample', 'options', { seed: 1 }, 'an options object');
 * checkOptionsObject('sample', 'options', [], 'an options object'); // throws: options must be an options object, but received []
 * ```
 */
export function checkOptionsObject<T>(
  component: string,
  argument: string,
  value: T,
  expected: string,
  errorClass: ConfigErrorClass = PhalanxConfigError,
): T & object {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new errorClass(component, argument, expected, value, describeCompact);
  }
  return value;
}

/**
 * Returns `value` if it is an options object — not `null`, an array or a primitive — whose own keys are all
 * in `known`; throws `expected` (with the received value) otherwise, and for a misspelt key throws as
 * {@link checkKnownKeys} does. The one prologue of every public entry point that takes an options object.
 *
 * @param argument - the name of the options object in the error, e.g. `'options'`.
 * @param known - the accepted keys, written as `{…} satisfies Record<keyof Options, true>`.
 * @param expected - what `value` must be, in the error, e.g. `'an options object {batchSize, …}'`.
 * @param errorClass - what to throw; default {@link PhalanxConfigError}.
 * @example
 * ```ts
 * interface Options { url?: string; handler?: object }
 * const KNOWN = { url: true, handler: true } satisfies Record<keyof Options, true>;
 * const options: Options = checkOptions('loadModel', 'options', { url: 'model.json' }, KNOWN, 'an options object');
 * ```
 */
export function checkOptions<T>(
  component: string,
  argument: string,
  value: T,
  known: Readonly<Record<string, true>>,
  expected: string,
  errorClass: ConfigErrorClass = PhalanxConfigError,
): T & object {
  const options = checkOptionsObject(component, argument, value, expected, errorClass);
  checkKnownKeys(component, argument, options, known, 'an option', errorClass);
  return options;
}

/** The largest finite float32, `(2 − 2⁻²³)·2¹²⁷ ≈ 3.4028235e38`: a larger number becomes `Infinity` in a float32 tensor. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * The smallest positive normal float32, `2⁻¹²⁶ ≈ 1.1754944e-38`. Smaller positive numbers are subnormal in
 * float32 (or 0 below `2⁻¹⁴⁹`), and GPU backends may flush subnormals to 0.
 */
export const FLOAT32_MIN_NORMAL = 1.1754943508222875e-38;

/**
 * Returns `value` if it is a finite number that stays finite in a float32 tensor (`|value|` up to
 * {@link FLOAT32_MAX}); throws `a finite number` for NaN, ±Infinity and non-numbers, and
 * `a number representable in float32 …` for a finite number that would overflow.
 *
 * @param errorClass - what to throw; default {@link PhalanxConfigError}.
 * @example
 * ```ts
 * checkFloat32('xyzL1Loss', 'zWeight', 0.5); // 0.5
 * checkFloat32('xyzL1Loss', 'zWeight', 1e39); // throws: Infinity in float32
 * ```
 */
export function checkFloat32(
  component: string,
  argument: string,
  value: unknown,
  errorClass: ConfigErrorClass = PhalanxConfigError,
): number {
  checkFinite(component, argument, value, errorClass);
  if (!Number.isFinite(Math.fround(value as number))) {
    throw new errorClass(component, argument, 'a number representable in float32 (|x| ≤ 3.4028235e38)', value);
  }
  return value as number;
}

/**
 * Returns `value` if it is a number > 0 that is a normal float32 (from {@link FLOAT32_MIN_NORMAL} to
 * {@link FLOAT32_MAX}): it neither underflows to 0 (or a subnormal a GPU may flush to 0) nor overflows to
 * `Infinity` in a float32 tensor. Throws `a finite number > 0` for NaN, ±Infinity, non-numbers and
 * numbers ≤ 0, and `a positive normal float32 …` otherwise.
 *
 * @param errorClass - what to throw; default {@link PhalanxConfigError}.
 * @example
 * ```ts
 * const tau = checkPositiveFloat32('ConcreteJointSelector', 'temperature', 1e-50); // throws: 0 in float32
 * ```
 */
export function checkPositiveFloat32(
  component: string,
  argument: string,
  value: unknown,
  errorClass: ConfigErrorClass = PhalanxConfigError,
): number {
  checkPositive(component, argument, value, errorClass);
  const stored = Math.fround(value as number);
  if (!(stored >= FLOAT32_MIN_NORMAL && stored <= FLOAT32_MAX)) {
    throw new errorClass(component, argument, 'a positive normal float32 (1.1754944e-38 ≤ x ≤ 3.4028235e38)', value);
  }
  return value as number;
}
