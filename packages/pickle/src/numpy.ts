/**
 * The NumPy classes the unpickler may call: `_reconstruct` + BUILD (how `ndarray.__reduce__` pickles an
 * array), `_frombuffer` (NumPy ≥ 1.24 for protocol 5), `dtype`, and `scalar` (NumPy scalars such as
 * `np.float32(1)`). Arrays come back as {@link NdArray}: C-order `Float64Array` of any float, integer or
 * bool dtype in either byte order; object arrays are refused.
 */
import { latin1Bytes, type PickleClass, type PickleContext, type PickleGlobals } from './machine';
import type { NdArray, PyObject, PyValue } from './values';

/** A NumPy dtype while it is being rebuilt: its type code and byte order (`<`, `>`, `|`, `=`). */
interface DType extends PyObject {
  readonly kind: 'dtype';
  code: string;
  order: string;
}

function isDType(v: PyValue | undefined): v is DType {
  return typeof v === 'object' && v !== null && (v as PyObject).kind === 'dtype';
}

/** Returns `shape` as a list of non-negative integers, failing on anything else. */
export function checkShape(ctx: PickleContext, shape: PyValue | undefined, what: string): number[] {
  if (!Array.isArray(shape)) ctx.fail(`builds ${what} whose shape is not a tuple`);
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      ctx.fail(`builds ${what} with the dimension ${String(d)}, which is not a non-negative integer`);
    }
  }
  return shape as number[];
}

/** IEEE 754 half-precision bits → number. */
function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : Number.NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

type Getter = (view: DataView, offset: number, littleEndian: boolean) => number;

const GETTERS: ReadonlyMap<string, Getter> = new Map<string, Getter>([
  ['f2', (v, o, le) => halfToNumber(v.getUint16(o, le))],
  ['f4', (v, o, le) => v.getFloat32(o, le)],
  ['f8', (v, o, le) => v.getFloat64(o, le)],
  ['i1', (v, o) => v.getInt8(o)],
  ['i2', (v, o, le) => v.getInt16(o, le)],
  ['i4', (v, o, le) => v.getInt32(o, le)],
  ['i8', (v, o, le) => Number(v.getBigInt64(o, le))],
  ['u1', (v, o) => v.getUint8(o)],
  ['b1', (v, o) => (v.getUint8(o) === 0 ? 0 : 1)],
  ['u2', (v, o, le) => v.getUint16(o, le)],
  ['u4', (v, o, le) => v.getUint32(o, le)],
  ['u8', (v, o, le) => Number(v.getBigUint64(o, le))],
]);

/** Row-major values of an array stored in Fortran (column-major) order. */
function fortranToC(data: Float64Array, shape: readonly number[]): Float64Array {
  const out = new Float64Array(data.length);
  const rank = shape.length;
  const index = new Array<number>(rank).fill(0);
  for (let f = 0; f < data.length; f++) {
    let c = 0;
    for (let d = 0; d < rank; d++) c = c * shape[d] + index[d];
    out[c] = data[f];
    for (let d = 0; d < rank; d++) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
  return out;
}

/** Decodes the raw bytes of an array; the byte count must match the shape and dtype exactly. */
function fillArray(
  ctx: PickleContext,
  target: NdArray,
  raw: PyValue | undefined,
  dtype: PyValue | undefined,
  shapeValue: PyValue | undefined,
  fortran: boolean,
): void {
  if (!isDType(dtype)) ctx.fail('builds a NumPy array without a dtype');
  const shape = checkShape(ctx, shapeValue, 'a NumPy array');
  if (Array.isArray(raw)) ctx.fail('holds a NumPy object array, which this reader does not support');
  if (!(raw instanceof Uint8Array) && typeof raw !== 'string') ctx.fail('builds a NumPy array without raw bytes');
  const bytes = typeof raw === 'string' ? latin1Bytes(raw) : raw;
  const get = GETTERS.get(dtype.code);
  if (get === undefined) ctx.fail(`builds a NumPy array of dtype '${dtype.code}', which this reader does not support`);
  const width = Number(dtype.code.slice(1));
  const size = shape.reduce((a, b) => a * b, 1);
  if (bytes.length !== size * width) {
    ctx.fail(
      `builds a NumPy array of shape (${shape.join(', ')}) ${dtype.code} from ${bytes.length} bytes (expected ${size * width})`,
    );
  }
  ctx.charge(8 * size * (fortran && shape.length > 1 ? 2 : 1) + (typeof raw === 'string' ? raw.length : 0));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const littleEndian = dtype.order !== '>';
  const data = new Float64Array(size);
  for (let i = 0; i < size; i++) data[i] = get(view, i * width, littleEndian);
  target.shape = shape.slice();
  target.dtype = dtype.code;
  target.data = fortran && shape.length > 1 ? fortranToC(data, shape) : data;
}

const emptyArray = (): NdArray => ({ kind: 'ndarray', shape: [0], dtype: 'f8', data: new Float64Array(0) });

/** `_reconstruct(ndarray, (0,), b'b')`, then BUILD `(version, shape, dtype, is_fortran, raw)`. */
const reconstruct: PickleClass = {
  create(_args, ctx) {
    const array = emptyArray();
    ctx.awaitState(array);
    return array;
  },
  setState(target, state, ctx) {
    if (!Array.isArray(state) || state.length < 5) {
      return ctx.fail('sets a NumPy array state that is not (version, shape, dtype, fortran, data)');
    }
    const [, shape, dtype, fortran, raw] = state;
    fillArray(ctx, target as NdArray, raw, dtype, shape, fortran === true);
  },
};

/** `dtype('f4', align, copy)`, then BUILD `(version, byteorder, …)`. */
const dtypeClass: PickleClass = {
  create(args, ctx) {
    const code = args[0];
    if (typeof code !== 'string') return ctx.fail('builds a dtype without a type code');
    const dtype: DType = { kind: 'dtype', code, order: '=' };
    return dtype;
  },
  setState(target, state) {
    if (Array.isArray(state) && typeof state[1] === 'string') (target as DType).order = state[1];
  },
};

/** `_frombuffer(buffer, dtype, shape, order)`. */
const frombuffer: PickleClass = {
  create(args, ctx) {
    const array = emptyArray();
    fillArray(ctx, array, args[0], args[1], args[2], args[3] === 'F');
    return array;
  },
};

/** `scalar(dtype, raw)`: a NumPy scalar, returned as a number. */
const scalar: PickleClass = {
  create(args, ctx) {
    const array = emptyArray();
    fillArray(ctx, array, args[1], args[0], [], false);
    return array.data[0];
  },
};

/** The NumPy globals, under both module names (`numpy.core` before NumPy 2, `numpy._core` since). */
export const numpyGlobals: PickleGlobals = new Map<string, PickleClass>([
  ...['numpy.core', 'numpy._core'].flatMap((core): Array<[string, PickleClass]> => [
    [`${core}.multiarray._reconstruct`, reconstruct],
    [`${core}.numeric._frombuffer`, frombuffer],
    [`${core}.multiarray.scalar`, scalar],
  ]),
  ['numpy.ndarray', reconstruct],
  ['numpy.dtype', dtypeClass],
]);
