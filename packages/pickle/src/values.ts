/**
 * The JavaScript values a pickle decodes to.
 *
 * | Python                          | JavaScript                                              |
 * | ------------------------------- | ------------------------------------------------------- |
 * | `None`                          | `null`                                                  |
 * | `bool`                          | `boolean`                                               |
 * | `int` within ±(2⁵³ − 1)         | `number`                                                |
 * | `int` beyond ±(2⁵³ − 1)         | `bigint` (exact)                                        |
 * | `float`                         | `number`                                                |
 * | `str`, Python 2 `str`           | `string` (Python 2 strings as latin-1)                  |
 * | `bytes`, `bytearray`            | `Uint8Array`                                            |
 * | `tuple`, `list`, `set`          | `Array`                                                 |
 * | `dict`, `collections.OrderedDict` | `Map` (insertion order kept)                          |
 * | `numpy.ndarray`                 | {@link NdArray}                                         |
 * | an allowed global (a class)     | {@link PyGlobal}                                        |
 * | an object an allowed class made | whatever that class's `create` returns ({@link PyObject}) |
 */

/** An object rebuilt by an allowed class: tagged with a `kind` so that it can be told from other values. */
export interface PyObject {
  /** What the object is, e.g. `'ndarray'`, `'global'`, or a kind of an extension's own. */
  readonly kind: string;
}

/** A NumPy array: values in C (row-major) order as `Float64Array`, with its shape and dtype code. */
export interface NdArray extends PyObject {
  /** Tag that tells an `NdArray` from other decoded values (see {@link isNdArray}). */
  readonly kind: 'ndarray';
  /** Array shape, e.g. `[21, 3]`. */
  shape: number[];
  /** NumPy dtype code, e.g. `'f4'`, `'f8'`, `'i8'`, `'u1'`, `'b1'`. */
  dtype: string;
  /** Values in C (row-major) order (64-bit integers beyond 2⁵³ are rounded). */
  data: Float64Array;
}

/** A reference to an allowed Python global (a class or function), e.g. `torch.FloatStorage`. */
export interface PyGlobal extends PyObject {
  /** Tag that tells a `PyGlobal` from other decoded values. */
  readonly kind: 'global';
  /** The dotted name, `module.qualname`, e.g. `'torch.FloatStorage'`. */
  readonly name: string;
}

/** A decoded Python value (see the table above). */
export type PyValue =
  null | boolean | number | bigint | string | Uint8Array | PyValue[] | Map<PyValue, PyValue> | PyObject;

/**
 * Returns `true` when `v` is a decoded NumPy array.
 *
 * @example
 * ```ts
 * const bytes = Uint8Array.from([0x80, 2, 0x4b, 7, 0x2e]); // pickle.dumps(7, protocol=2)
 * const v = unpickle(bytes);
 * if (isNdArray(v)) console.log(v.shape, v.dtype);
 * ```
 */
export function isNdArray(v: unknown): v is NdArray {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'ndarray';
}

/**
 * Returns `true` when `v` is a reference to a Python global, optionally one called `name`.
 *
 * @example
 * ```ts
 * isPyGlobal({ kind: 'global', name: 'torch.FloatStorage' }, 'torch.FloatStorage'); // true
 * ```
 */
export function isPyGlobal(v: unknown, name?: string): v is PyGlobal {
  return (
    typeof v === 'object' &&
    v !== null &&
    (v as { kind?: unknown }).kind === 'global' &&
    (name === undefined || (v as PyGlobal).name === name)
  );
}
