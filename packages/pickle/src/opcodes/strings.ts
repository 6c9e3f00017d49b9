/**
 * Opcodes that push text and bytes. `str` becomes a string (invalid UTF-8 is an error; lone surrogates pass,
 * as CPython's `surrogatepass` lets them); Python 2 `str` (STRING, BINSTRING, SHORT_BINSTRING) becomes a
 * latin-1 string; `bytes` and `bytearray` become a `Uint8Array` copy. Out-of-band buffers (protocol 5's
 * NEXT_BUFFER) cannot be carried by a file and are refused.
 */
import { latin1, type OpTable, type PickleMachine } from '../machine';
import { OP } from './codes';

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  n: '\n',
  r: '\r',
  t: '\t',
  a: '\x07',
  b: '\b',
  f: '\f',
  v: '\v',
  '\\': '\\',
  "'": "'",
  '"': '"',
};

/** UTF-8 bytes → string; surrogate code points (ED A0–BF xx) are accepted, other invalid input fails. */
export function decodeUtf8(m: PickleMachine, b: Uint8Array): string {
  try {
    return STRICT_UTF8.decode(b);
  } catch {
    return decodeUtf8SurrogatePass(m, b);
  }
}

function decodeUtf8SurrogatePass(m: PickleMachine, b: Uint8Array): string {
  const units: number[] = [];
  let s = '';
  const cont = (i: number): number => {
    if (i >= b.length || (b[i] & 0xc0) !== 0x80) m.fail('holds text that is not valid UTF-8');
    return b[i] & 0x3f;
  };
  for (let i = 0; i < b.length;) {
    const c = b[i];
    let cp: number;
    if (c < 0x80) {
      cp = c;
      i += 1;
    } else if (c >= 0xc2 && c < 0xe0) {
      cp = ((c & 0x1f) << 6) | cont(i + 1);
      i += 2;
    } else if (c >= 0xe0 && c < 0xf0) {
      cp = ((c & 0x0f) << 12) | (cont(i + 1) << 6) | cont(i + 2);
      i += 3;
    } else if (c >= 0xf0 && c < 0xf5) {
      cp = ((c & 0x07) << 18) | (cont(i + 1) << 12) | (cont(i + 2) << 6) | cont(i + 3);
      i += 4;
    } else return m.fail('holds text that is not valid UTF-8');
    if ((c >= 0xe0 && cp < 0x800) || (c >= 0xf0 && (cp < 0x10000 || cp > 0x10ffff)))
      m.fail('holds text that is not valid UTF-8 (overlong or out of range)');
    if (cp > 0xffff) units.push(0xd800 + ((cp - 0x10000) >> 10), 0xdc00 + ((cp - 0x10000) & 0x3ff));
    else units.push(cp);
    if (units.length >= 8192) s += String.fromCharCode(...units.splice(0));
  }
  return s + String.fromCharCode(...units);
}

/** STRING: a quoted Python 2 `repr` with backslash escapes. */
function loadString(m: PickleMachine): void {
  const text = m.line();
  const q = text[0];
  if (text.length < 2 || (q !== "'" && q !== '"') || text[text.length - 1] !== q) {
    m.fail('has a STRING argument that is not quoted');
  }
  m.push(
    text.slice(1, -1).replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)/g, (_all, e: string) => {
      if (e[0] === 'x' && e.length === 3) return String.fromCharCode(parseInt(e.slice(1), 16));
      if (/^[0-7]/.test(e)) return String.fromCharCode(parseInt(e, 8) & 0xff);
      return SIMPLE_ESCAPES[e] ?? `\\${e}`;
    }),
  );
}

/** UNICODE: latin-1 text with `\uXXXX` and `\UXXXXXXXX` escapes (raw-unicode-escape). */
function loadUnicodeText(m: PickleMachine): void {
  m.push(
    m.line().replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_all, short?: string, long?: string) => {
      const cp = parseInt(short ?? (long as string), 16);
      if (cp > 0x10ffff) m.fail(`has the escape \\U${long}, beyond the last Unicode code point`);
      return String.fromCodePoint(cp);
    }),
  );
}

function signedLength(m: PickleMachine): number {
  const n = m.i32();
  if (n < 0) m.fail(`has a negative length ${n}`);
  return n;
}

export const stringOps: OpTable = {
  [OP.STRING]: loadString,
  [OP.BINSTRING]: (m) => m.push(latin1(m.take(signedLength(m)))),
  [OP.SHORT_BINSTRING]: (m) => m.push(latin1(m.take(m.u8()))),
  [OP.UNICODE]: loadUnicodeText,
  [OP.BINUNICODE]: (m) => m.push(decodeUtf8(m, m.take(m.u32()))),
  [OP.SHORT_BINUNICODE]: (m) => m.push(decodeUtf8(m, m.take(m.u8()))),
  [OP.BINUNICODE8]: (m) => m.push(decodeUtf8(m, m.take(m.u64()))),
  [OP.BINBYTES]: (m) => m.push(new Uint8Array(m.take(m.u32()))),
  [OP.SHORT_BINBYTES]: (m) => m.push(new Uint8Array(m.take(m.u8()))),
  [OP.BINBYTES8]: (m) => m.push(new Uint8Array(m.take(m.u64()))),
  [OP.BYTEARRAY8]: (m) => m.push(new Uint8Array(m.take(m.u64()))),
  [OP.NEXT_BUFFER]: (m) => m.fail('uses out-of-band buffers, which a file cannot carry'),
  [OP.READONLY_BUFFER]: (m) => m.fail('uses out-of-band buffers, which a file cannot carry'),
};
