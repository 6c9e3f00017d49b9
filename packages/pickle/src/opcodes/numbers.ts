/**
 * Opcodes that push None, booleans and numbers. Integers within ±(2⁵³ − 1) become `number`, larger ones an
 * exact `bigint`. LONG1/LONG4 are decoded through one hexadecimal string, in time linear in their length
 * (a per-byte BigInt shift is quadratic). Text INT, LONG and FLOAT must be numbers, as Python's `int()` and
 * `float()` would require.
 */
import type { OpTable, PickleMachine } from '../machine';
import { OP } from './codes';

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const DECIMAL = /^\s*[+-]?\d+\s*$/;
// The fraction is one optional group after the integer digits, so no two digit runs can share a digit: a
// non-number is rejected in linear time (`\d+\.?\d*` let the engine split a long digit run n ways, n² steps).
const DECIMAL_FLOAT = /^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$/;
const SPECIAL_FLOAT = /^\s*([+-]?)(inf|infinity|nan)\s*$/i;

/** A Python int as `number` when it is a safe integer, else as `bigint`. */
export function pyInt(v: bigint): number | bigint {
  return v <= MAX_SAFE && v >= -MAX_SAFE ? Number(v) : v;
}

/** Two's-complement little-endian bytes (LONG1, LONG4) → integer, in linear time. */
export function decodeLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  if (b.length <= 6) {
    let v = 0;
    for (let i = b.length - 1; i >= 0; i--) v = v * 256 + b[i];
    return b[b.length - 1] & 0x80 ? v - 2 ** (8 * b.length) : v;
  }
  const digits = new Array<string>(b.length);
  for (let i = 0; i < b.length; i++) digits[i] = HEX[b[b.length - 1 - i]];
  let v = BigInt(`0x${digits.join('')}`);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return pyInt(v);
}

/** A decimal integer written as text (INT, LONG, GET, PUT); anything else fails. */
export function parseDecimal(m: PickleMachine, text: string, what: string): number | bigint {
  if (!DECIMAL.test(text)) m.fail(`has ${what} '${text.slice(0, 40)}', which is not a decimal integer`);
  return pyInt(BigInt(text.trim()));
}

/** A float written as text (FLOAT): decimal, exponent, `inf`, `nan`, as Python's `float()` reads them. */
export function parseFloatText(m: PickleMachine, text: string): number {
  if (DECIMAL_FLOAT.test(text)) return Number(text.trim());
  const special = SPECIAL_FLOAT.exec(text);
  if (special === null) m.fail(`has the float '${text.slice(0, 40)}', which is not a number`);
  if (special[2].toLowerCase() === 'nan') return Number.NaN;
  return special[1] === '-' ? -Infinity : Infinity;
}

/** INT: protocol 0 writes `I01`/`I00` for True/False and decimal text for other ints. */
function loadInt(m: PickleMachine): void {
  const text = m.line();
  m.push(text === '01' ? true : text === '00' ? false : parseDecimal(m, text, 'the INT'));
}

/** LONG: decimal text with Python 2's optional `L` suffix. */
function loadLongText(m: PickleMachine): void {
  const text = m.line();
  m.push(parseDecimal(m, text.endsWith('L') ? text.slice(0, -1) : text, 'the LONG'));
}

export const numberOps: OpTable = {
  [OP.NONE]: (m) => m.push(null),
  [OP.NEWTRUE]: (m) => m.push(true),
  [OP.NEWFALSE]: (m) => m.push(false),
  [OP.INT]: loadInt,
  [OP.BININT]: (m) => m.push(m.i32()),
  [OP.BININT1]: (m) => m.push(m.u8()),
  [OP.BININT2]: (m) => m.push(m.u16()),
  [OP.LONG]: loadLongText,
  [OP.LONG1]: (m) => m.push(decodeLong(m.take(m.u8()))),
  [OP.LONG4]: (m) => {
    const n = m.i32();
    if (n < 0) m.fail(`has a negative LONG4 length ${n}`);
    m.push(decodeLong(m.take(n)));
  },
  [OP.FLOAT]: (m) => m.push(parseFloatText(m, m.line())),
  [OP.BINFLOAT]: (m) => m.push(m.f64be()),
};
