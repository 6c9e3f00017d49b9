/**
 * A small, safe Python unpickler (protocols 0–5) for annotation files made of dicts, lists, tuples, numbers,
 * strings and NumPy arrays — enough for RHD's `anno_*.pickle`. It executes no code: the only globals it accepts
 * are the NumPy array/dtype reconstructors and `_codecs.encode` (Python 3 writes bytes that way in protocol ≤ 2);
 * any other global, an object instance, or an out-of-band buffer is an error that names the file and the offset.
 *
 * Why not the `pickleparser` npm package: it rebuilds arbitrary classes as plain objects, so a NumPy array comes
 * back as an opaque `_reconstruct` call with its raw bytes; one would still have to decode the array state
 * (shape, dtype, byte order, Fortran order) by hand, which is most of the work done here.
 *
 * Mapping: `None` → `null`; bool, int (≤ 2⁵³), float → `number`; `str` → `string`; Python 2 `str` → `string`
 * (latin-1); `bytes` → `Uint8Array`; tuple, list, set → `Array`; dict → `Map`; `numpy.ndarray` → `NdArray`.
 */
import { PhalanxDataFileError } from '../errors';

/** A NumPy array: C-order data as `Float64Array` (float and integer dtypes) with its shape and dtype string. */
export interface NdArray {
  /** Tag that tells an `NdArray` from other decoded values (see {@link isNdArray}). */
  readonly kind: 'ndarray';
  /** Array shape, e.g. `[21, 3]`. */
  shape: number[];
  /** NumPy dtype code, e.g. `'f4'`, `'f8'`, `'i8'`, `'u1'`, `'b1'`. */
  dtype: string;
  /** Values in C (row-major) order. */
  data: Float64Array;
}

/** A decoded Python value. */
export type PyValue = null | boolean | number | string | Uint8Array | PyValue[] | Map<PyValue, PyValue> | NdArray;

/** Returns `true` when `v` is a decoded NumPy array. */
export function isNdArray(v: unknown): v is NdArray {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'ndarray';
}

interface Global {
  readonly kind: 'global';
  name: string;
}
interface DType {
  readonly kind: 'dtype';
  code: string;
  order: string;
}
interface PendingArray {
  readonly kind: 'pending-array';
  array?: NdArray;
}
type Item = PyValue | Global | DType | PendingArray | typeof MARK;
const MARK = Symbol('mark');

const ALLOWED_GLOBALS = new Set([
  'numpy.core.multiarray._reconstruct',
  'numpy._core.multiarray._reconstruct',
  'numpy.ndarray',
  'numpy.dtype',
  'numpy.core.numeric._frombuffer',
  'numpy._core.numeric._frombuffer',
  'numpy.core.multiarray.scalar',
  'numpy._core.multiarray.scalar',
  '_codecs.encode',
  'builtins.bytearray',
  '__builtin__.bytearray',
  'collections.OrderedDict',
]);

/**
 * Decodes pickle bytes. `file` names the source in error messages.
 *
 * @example
 * import { readFileSync } from 'node:fs';
 * import { unpickle, type PyValue } from '@phalanx/data';
 * const anno = unpickle(readFileSync('anno_training.pickle'), 'anno_training.pickle') as Map<number, Map<string, PyValue>>;
 */
export function unpickle(bytes: Uint8Array, file = 'pickle'): PyValue {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: Item[] = [];
  const memo = new Map<number, Item>();
  let pos = 0;
  let op = 0;
  let opPos = 0;
  const fail = (problem: string): never => {
    throw new PhalanxDataFileError(file, `pickle opcode 0x${op.toString(16)} at byte ${opPos}`, problem);
  };
  const need = (n: number) => {
    if (pos + n > bytes.length) fail('runs past the end of the file (truncated pickle)');
  };
  const u8 = () => (need(1), bytes[pos++]);
  const u16 = () => (need(2), (pos += 2), view.getUint16(pos - 2, true));
  const u32 = () => (need(4), (pos += 4), view.getUint32(pos - 4, true));
  const u64 = () => {
    need(8);
    const lo = view.getUint32(pos, true);
    const hi = view.getUint32(pos + 4, true);
    pos += 8;
    if (hi > 0x1fffff) fail('has a length beyond 2^53');
    return hi * 4294967296 + lo;
  };
  const take = (n: number) => (need(n), (pos += n), bytes.subarray(pos - n, pos));
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('has no terminating newline');
    const s = latin1(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = (): Item => (stack.length === 0 ? fail('pops an empty stack') : (stack.pop() as Item));
  const popMark = (): Item[] => {
    let k = stack.length - 1;
    while (k >= 0 && stack[k] !== MARK) k--;
    if (k < 0) fail('finds no MARK on the stack');
    const items = stack.splice(k);
    items.shift();
    return items;
  };
  const top = (): Item => (stack.length === 0 ? fail('reads an empty stack') : stack[stack.length - 1]);
  const setItems = (d: Item, kv: Item[]) => {
    if (!(d instanceof Map)) fail('sets items on something that is not a dict');
    for (let i = 0; i + 1 < kv.length; i += 2) (d as Map<PyValue, PyValue>).set(value(kv[i]), value(kv[i + 1]));
  };
  const value = (x: Item): PyValue => {
    if (x === MARK) return fail('uses a MARK as a value');
    if (typeof x === 'object' && x !== null && 'kind' in x) {
      // Globals and dtypes pass through: they appear inside argument and state tuples.
      if (x.kind === 'pending-array') return x.array ?? fail('uses a NumPy array before its state was set');
    }
    return x as PyValue;
  };

  for (;;) {
    opPos = pos;
    op = u8();
    switch (op) {
      case 0x80:
        u8();
        break; // PROTO
      case 0x95:
        u64();
        break; // FRAME
      case 0x2e: {
        // STOP
        const v = pop();
        return value(v);
      }
      case 0x28:
        stack.push(MARK);
        break; // MARK
      case 0x30:
        pop();
        break; // POP
      case 0x31:
        popMark();
        break; // POP_MARK
      case 0x32:
        stack.push(top());
        break; // DUP
      case 0x4e:
        stack.push(null);
        break; // NONE
      case 0x88:
        stack.push(true);
        break;
      case 0x89:
        stack.push(false);
        break;
      case 0x49: {
        // INT (text)
        const s = line();
        stack.push(s === '01' ? true : s === '00' ? false : parseInt(s, 10));
        break;
      }
      case 0x4a:
        need(4);
        stack.push(view.getInt32(pos, true));
        pos += 4;
        break; // BININT
      case 0x4b:
        stack.push(u8());
        break; // BININT1
      case 0x4d:
        stack.push(u16());
        break; // BININT2
      case 0x4c:
        stack.push(Number(line().replace(/L$/, '')));
        break; // LONG (text)
      case 0x8a:
        stack.push(longLE(take(u8())));
        break; // LONG1
      case 0x8b:
        stack.push(longLE(take(u32())));
        break; // LONG4
      case 0x46:
        stack.push(parseFloat(line()));
        break; // FLOAT (text)
      case 0x47:
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break; // BINFLOAT
      case 0x53:
        stack.push(parseStringRepr(line(), fail));
        break; // STRING (text repr)
      case 0x54:
        stack.push(latin1(take(u32())));
        break; // BINSTRING (Python 2 str)
      case 0x55:
        stack.push(latin1(take(u8())));
        break; // SHORT_BINSTRING
      case 0x56:
        stack.push(rawUnicodeEscape(line()));
        break; // UNICODE (text)
      case 0x58:
        stack.push(utf8(take(u32())));
        break; // BINUNICODE
      case 0x8c:
        stack.push(utf8(take(u8())));
        break; // SHORT_BINUNICODE
      case 0x8d:
        stack.push(utf8(take(u64())));
        break; // BINUNICODE8
      case 0x42:
        stack.push(new Uint8Array(take(u32())));
        break; // BINBYTES
      case 0x43:
        stack.push(new Uint8Array(take(u8())));
        break; // SHORT_BINBYTES
      case 0x8e:
        stack.push(new Uint8Array(take(u64())));
        break; // BINBYTES8
      case 0x96:
        stack.push(new Uint8Array(take(u64())));
        break; // BYTEARRAY8
      case 0x97:
      case 0x98:
        fail('uses out-of-band buffers, which a file cannot carry');
        break;
      case 0x29:
        stack.push([]);
        break; // EMPTY_TUPLE
      case 0x74:
        stack.push(popMark().map(value));
        break; // TUPLE
      case 0x85:
        stack.push([value(pop())]);
        break;
      case 0x86: {
        const b = value(pop());
        const a = value(pop());
        stack.push([a, b]);
        break;
      }
      case 0x87: {
        const c = value(pop());
        const b = value(pop());
        const a = value(pop());
        stack.push([a, b, c]);
        break;
      }
      case 0x5d:
        stack.push([]);
        break; // EMPTY_LIST
      case 0x6c:
        stack.push(popMark().map(value));
        break; // LIST
      case 0x61: {
        const v = value(pop());
        const l = top();
        if (!Array.isArray(l)) fail('appends to a non-list');
        (l as PyValue[]).push(v);
        break;
      }
      case 0x65: {
        const vs = popMark().map(value);
        const l = top();
        if (!Array.isArray(l)) fail('appends to a non-list');
        (l as PyValue[]).push(...vs);
        break;
      }
      case 0x7d:
        stack.push(new Map());
        break; // EMPTY_DICT
      case 0x64: {
        const kv = popMark();
        const d = new Map<PyValue, PyValue>();
        setItems(d, kv);
        stack.push(d);
        break;
      } // DICT
      case 0x73: {
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      } // SETITEM
      case 0x75: {
        const kv = popMark();
        setItems(top(), kv);
        break;
      } // SETITEMS
      case 0x8f:
        stack.push([]);
        break; // EMPTY_SET
      case 0x90: {
        const vs = popMark().map(value);
        const s = top();
        if (!Array.isArray(s)) fail('adds to a non-set');
        (s as PyValue[]).push(...vs);
        break;
      }
      case 0x91:
        stack.push(popMark().map(value));
        break; // FROZENSET
      case 0x63: {
        const mod = line();
        const name = line();
        stack.push(global(`${mod}.${name}`));
        break;
      } // GLOBAL
      case 0x93: {
        const name = pop();
        const mod = pop();
        stack.push(global(`${String(mod)}.${String(name)}`));
        break;
      } // STACK_GLOBAL
      case 0x52: {
        const args = pop();
        const fn = pop();
        stack.push(reduce(fn, args));
        break;
      } // REDUCE
      case 0x81: {
        const args = pop();
        const cls = pop();
        stack.push(reduce(cls, args));
        break;
      } // NEWOBJ
      case 0x62: {
        const state = pop();
        build(top(), state);
        break;
      } // BUILD
      case 0x70:
        memo.set(parseInt(line(), 10), top());
        break; // PUT
      case 0x71:
        memo.set(u8(), top());
        break; // BINPUT
      case 0x72:
        memo.set(u32(), top());
        break; // LONG_BINPUT
      case 0x94:
        memo.set(memo.size, top());
        break; // MEMOIZE
      case 0x67:
        stack.push(memoGet(parseInt(line(), 10)));
        break; // GET
      case 0x68:
        stack.push(memoGet(u8()));
        break; // BINGET
      case 0x6a:
        stack.push(memoGet(u32()));
        break; // LONG_BINGET
      default:
        fail('is not supported by this reader (only dicts, lists, tuples, numbers, strings and NumPy arrays are)');
    }
  }

  function memoGet(k: number): Item {
    if (!memo.has(k)) fail(`refers to memo entry ${k}, which was never stored`);
    return memo.get(k) as Item;
  }
  function global(name: string): Global {
    if (!ALLOWED_GLOBALS.has(name)) fail(`refers to the Python global '${name}', which this reader does not rebuild`);
    return { kind: 'global', name };
  }
  function reduce(fnItem: Item, argsItem: Item): Item {
    const fn = fnItem as Global;
    if (typeof fn !== 'object' || fn === null || (fn as { kind?: string }).kind !== 'global')
      fail('calls something that is not a global');
    const args = argsItem as Item[];
    if (!Array.isArray(args)) fail('calls a global without an argument tuple');
    const name = fn.name.replace('numpy._core', 'numpy.core');
    switch (name) {
      case 'numpy.core.multiarray._reconstruct':
      case 'numpy.ndarray':
        return { kind: 'pending-array' };
      case 'numpy.dtype': {
        const code = args[0];
        if (typeof code !== 'string') fail('builds a dtype without a type code');
        return { kind: 'dtype', code: code as string, order: '=' };
      }
      case '_codecs.encode': {
        const s = args[0];
        if (typeof s !== 'string') fail('encodes something that is not a string');
        return latin1Bytes(s as string);
      }
      case 'builtins.bytearray':
      case '__builtin__.bytearray':
        return args.length === 0
          ? new Uint8Array(0)
          : typeof args[0] === 'string'
            ? latin1Bytes(args[0] as string)
            : (args[0] as Uint8Array);
      case 'collections.OrderedDict':
        return new Map();
      case 'numpy.core.numeric._frombuffer': {
        const [buf, dt, shape, order] = args as [Uint8Array | string, DType, number[], string];
        return { kind: 'pending-array', array: makeArray(buf, dt, shape, order === 'F') };
      }
      case 'numpy.core.multiarray.scalar': {
        const [dt, buf] = args as [DType, Uint8Array | string];
        return makeArray(buf, dt, [], false).data[0];
      }
      default:
        return fail(`calls '${fn.name}', which this reader does not support`);
    }
  }
  function build(target: Item, stateItem: Item): void {
    const state = stateItem as Item[];
    if (typeof target === 'object' && target !== null && 'kind' in target) {
      if (target.kind === 'dtype') {
        if (Array.isArray(state) && typeof state[1] === 'string') target.order = state[1];
        return;
      }
      if (target.kind === 'pending-array') {
        // (version, shape, dtype, is_fortran, raw data)
        if (!Array.isArray(state) || state.length < 5)
          fail('sets a NumPy array state that is not (version, shape, dtype, fortran, data)');
        const [, shape, dt, fortran, raw] = state as [
          number,
          number[],
          DType,
          boolean,
          Uint8Array | string | PyValue[],
        ];
        if (Array.isArray(raw)) fail('holds a NumPy object array, which this reader does not support');
        target.array = makeArray(raw as Uint8Array | string, dt, shape, fortran);
        return;
      }
    }
    fail('sets the state of an object this reader does not rebuild');
  }
  function makeArray(raw: Uint8Array | string, dt: DType, shape: number[], fortran: boolean): NdArray {
    if (!dt || dt.kind !== 'dtype') fail('builds a NumPy array without a dtype');
    if (!Array.isArray(shape) || shape.some((d) => typeof d !== 'number'))
      fail('builds a NumPy array without an integer shape');
    const buf = typeof raw === 'string' ? latin1Bytes(raw) : raw;
    const code = dt.code;
    const size = shape.reduce((a, b) => a * b, 1);
    const m = /^([fiub])(\d+)$/.exec(code);
    if (!m) fail(`builds a NumPy array of dtype '${code}', which this reader does not support`);
    const kind = m![1];
    const width = Number(m![2]);
    if (buf.length !== size * width)
      fail(
        `builds a NumPy array of shape (${shape.join(', ')}) ${code} from ${buf.length} bytes (expected ${size * width})`,
      );
    const le = dt.order !== '>';
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const data = new Float64Array(size);
    for (let i = 0; i < size; i++) {
      const o = i * width;
      let v: number;
      if (kind === 'f' && width === 4) v = dv.getFloat32(o, le);
      else if (kind === 'f' && width === 8) v = dv.getFloat64(o, le);
      else if (kind === 'i' && width === 1) v = dv.getInt8(o);
      else if (kind === 'i' && width === 2) v = dv.getInt16(o, le);
      else if (kind === 'i' && width === 4) v = dv.getInt32(o, le);
      else if (kind === 'i' && width === 8) v = Number(dv.getBigInt64(o, le));
      else if ((kind === 'u' || kind === 'b') && width === 1) v = dv.getUint8(o);
      else if (kind === 'u' && width === 2) v = dv.getUint16(o, le);
      else if (kind === 'u' && width === 4) v = dv.getUint32(o, le);
      else if (kind === 'u' && width === 8) v = Number(dv.getBigUint64(o, le));
      else return fail(`builds a NumPy array of dtype '${code}', which this reader does not support`);
      data[i] = v;
    }
    return { kind: 'ndarray', shape: shape.slice(), dtype: code, data: fortran ? fortranToC(data, shape) : data };
  }
}

function fortranToC(data: Float64Array, shape: number[]): Float64Array {
  const n = data.length;
  const out = new Float64Array(n);
  const rank = shape.length;
  const idx = new Array<number>(rank).fill(0);
  for (let f = 0; f < n; f++) {
    // f runs in Fortran order: first index fastest.
    let c = 0;
    for (let d = 0; d < rank; d++) c = c * shape[d] + idx[d];
    out[c] = data[f];
    for (let d = 0; d < rank; d++) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
  return s;
}
function latin1Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}
function utf8(b: Uint8Array): string {
  return new TextDecoder('utf-8').decode(b);
}
function longLE(b: Uint8Array): number {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return Number(v);
}
function parseStringRepr(s: string, fail: (p: string) => never): string {
  const q = s[0];
  if ((q !== "'" && q !== '"') || s[s.length - 1] !== q) fail('has a STRING argument that is not quoted');
  const body = s.slice(1, -1);
  return body.replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)/g, (_m, e: string) => {
    if (e[0] === 'x') return String.fromCharCode(parseInt(e.slice(1), 16));
    if (/^[0-7]/.test(e)) return String.fromCharCode(parseInt(e, 8));
    return ({ n: '\n', r: '\r', t: '\t', '\\': '\\', "'": "'", '"': '"' } as Record<string, string>)[e] ?? `\\${e}`;
  });
}
function rawUnicodeEscape(s: string): string {
  // Latin-1 bytes already; \uXXXX and \UXXXXXXXX escapes.
  return s.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_m, a: string, b: string) =>
    String.fromCodePoint(parseInt(a ?? b, 16)),
  );
}
