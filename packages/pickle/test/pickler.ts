/**
 * A small pickle *writer* for the tests, written from the format description (pickletools) and independent
 * of the reader: it emits the opcodes CPython's pickler chooses for each protocol, so the reader can be
 * checked against values whose pickles are known.
 *
 * Model: `bigint` is a Python int, `{ float }` a Python float, `{ tuple }` a tuple, an array a list, a `Map`
 * a dict, a `Uint8Array` bytes; null, booleans and strings as themselves. The same object reached twice is
 * written once and fetched from the memo the second time.
 */
export type Model =
  null | boolean | bigint | string | Uint8Array | { float: number } | { tuple: Model[] } | Model[] | Map<Model, Model>;

/** The value the reader must return for a model. */
export type Decoded = null | boolean | number | bigint | string | Uint8Array | Decoded[] | Map<Decoded, Decoded>;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export function expectedValue(v: Model, seen = new Map<object, Decoded>()): Decoded {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'bigint') return v <= MAX_SAFE && v >= -MAX_SAFE ? Number(v) : v;
  if (v instanceof Uint8Array) return new Uint8Array(v);
  if (seen.has(v)) return seen.get(v) as Decoded;
  if (Array.isArray(v)) {
    const out: Decoded[] = [];
    seen.set(v, out);
    for (const x of v) out.push(expectedValue(x, seen));
    return out;
  }
  if (v instanceof Map) {
    const out = new Map<Decoded, Decoded>();
    seen.set(v, out);
    for (const [k, x] of v) out.set(expectedValue(k, seen), expectedValue(x, seen));
    return out;
  }
  if ('float' in v) return v.float;
  const out = v.tuple.map((x) => expectedValue(x, seen));
  seen.set(v, out);
  return out;
}

class Out {
  private chunks: number[] = [];
  byte(...b: number[]): void {
    for (const x of b) this.chunks.push(x);
  }
  bytes(b: Uint8Array): void {
    for (const x of b) this.chunks.push(x);
  }
  u16(n: number): void {
    this.byte(n & 0xff, (n >>> 8) & 0xff);
  }
  u32(n: number): void {
    this.byte(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
  }
  u64(n: number): void {
    this.u32(n % 2 ** 32);
    this.u32(Math.floor(n / 2 ** 32));
  }
  ascii(s: string): void {
    for (let i = 0; i < s.length; i++) this.chunks.push(s.charCodeAt(i) & 0xff);
  }
  get length(): number {
    return this.chunks.length;
  }
  result(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

/** UTF-8 with surrogatepass (lone surrogates as 3-byte sequences), as CPython's pickler writes `str`. */
export function utf8SurrogatePass(s: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    let cp = s.charCodeAt(i);
    if (cp >= 0xd800 && cp < 0xdc00 && i + 1 < s.length) {
      const lo = s.charCodeAt(i + 1);
      if (lo >= 0xdc00 && lo < 0xe000) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        i++;
      }
    }
    if (cp < 0x80) out.push(cp);
    else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 63));
    else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
    else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
  }
  return Uint8Array.from(out);
}

/** Two's-complement little-endian bytes of `v`, as Python's `encode_long`. */
export function encodeLong(v: bigint): Uint8Array {
  if (v === 0n) return new Uint8Array(0);
  const out: number[] = [];
  let x = v;
  for (;;) {
    out.push(Number(x & 0xffn));
    x >>= 8n;
    const sign = out[out.length - 1] & 0x80;
    if ((x === 0n && !sign) || (x === -1n && sign)) break;
  }
  return Uint8Array.from(out);
}

function floatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (Object.is(x, -0)) return '-0.0';
  return String(x);
}

/** Protocol 0 `str`: raw-unicode-escape of the text with `\`, NUL, CR, LF and ^Z escaped. */
function rawUnicodeEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0) as number;
    if (cp === 0x5c || cp === 0 || cp === 0x0a || cp === 0x0d || cp === 0x1a || cp > 0xff) {
      out += cp > 0xffff ? `\\U${cp.toString(16).padStart(8, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
    } else out += ch;
  }
  return out;
}

class Pickler {
  readonly out = new Out();
  private readonly memo = new Map<object, number>();
  constructor(readonly protocol: number) {}

  dump(v: Model): Uint8Array {
    if (this.protocol >= 2) this.out.byte(0x80, this.protocol);
    this.save(v);
    this.out.byte(0x2e);
    const body = this.out.result();
    if (this.protocol < 4) return body;
    // One FRAME after PROTO covering the rest, as CPython does for small pickles.
    const framed = new Out();
    framed.bytes(body.subarray(0, 2));
    framed.byte(0x95);
    framed.u64(body.length - 2);
    framed.bytes(body.subarray(2));
    return framed.result();
  }

  private put(obj: object): void {
    const index = this.memo.size;
    this.memo.set(obj, index);
    if (this.protocol >= 4) this.out.byte(0x94);
    else if (this.protocol === 0) {
      this.out.byte(0x70);
      this.out.ascii(`${index}\n`);
    } else if (index < 256) this.out.byte(0x71, index);
    else {
      this.out.byte(0x72);
      this.out.u32(index);
    }
  }

  /** Writes a GET if `obj` was written before; returns whether it did. */
  private get(obj: object): boolean {
    const index = this.memo.get(obj);
    if (index === undefined) return false;
    if (this.protocol === 0) {
      this.out.byte(0x67);
      this.out.ascii(`${index}\n`);
    } else if (index < 256) this.out.byte(0x68, index);
    else {
      this.out.byte(0x6a);
      this.out.u32(index);
    }
    return true;
  }

  save(v: Model): void {
    if (v === null) this.out.byte(0x4e);
    else if (typeof v === 'boolean') this.saveBool(v);
    else if (typeof v === 'bigint') this.saveInt(v);
    else if (typeof v === 'string') this.saveStr(v);
    else if (v instanceof Uint8Array) this.saveBytes(v);
    else if (this.get(v)) return;
    else if (Array.isArray(v)) this.saveList(v);
    else if (v instanceof Map) this.saveDict(v);
    else if ('float' in v) this.saveFloat(v.float);
    else this.saveTuple(v.tuple, v);
  }

  private saveBool(v: boolean): void {
    if (this.protocol >= 2) this.out.byte(v ? 0x88 : 0x89);
    else this.out.ascii(v ? 'I01\n' : 'I00\n');
  }

  private saveInt(v: bigint): void {
    if (this.protocol >= 1 && v >= 0n && v < 256n) this.out.byte(0x4b, Number(v));
    else if (this.protocol >= 1 && v >= 0n && v < 65536n) {
      this.out.byte(0x4d);
      this.out.u16(Number(v));
    } else if (this.protocol >= 1 && v >= -(2n ** 31n) && v < 2n ** 31n) {
      this.out.byte(0x4a);
      this.out.u32(Number(BigInt.asUintN(32, v)));
    } else if (this.protocol >= 2) {
      const b = encodeLong(v);
      if (b.length < 256) this.out.byte(0x8a, b.length);
      else {
        this.out.byte(0x8b);
        this.out.u32(b.length);
      }
      this.out.bytes(b);
    } else if (v >= -(2n ** 31n) && v < 2n ** 31n) this.out.ascii(`I${v}\n`);
    else this.out.ascii(`L${v}L\n`);
  }

  private saveFloat(x: number): void {
    if (this.protocol >= 1) {
      this.out.byte(0x47);
      const b = new Uint8Array(8);
      new DataView(b.buffer).setFloat64(0, x, false);
      this.out.bytes(b);
    } else this.out.ascii(`F${floatRepr(x)}\n`);
  }

  private saveStr(s: string): void {
    if (this.protocol === 0) {
      this.out.byte(0x56);
      this.out.ascii(rawUnicodeEscape(s));
      this.out.byte(0x0a);
      return;
    }
    const b = utf8SurrogatePass(s);
    if (this.protocol >= 4 && b.length < 256) this.out.byte(0x8c, b.length);
    else {
      this.out.byte(0x58);
      this.out.u32(b.length);
    }
    this.out.bytes(b);
  }

  private saveBytes(b: Uint8Array): void {
    if (this.protocol >= 3) {
      if (b.length < 256) this.out.byte(0x43, b.length);
      else {
        this.out.byte(0x42);
        this.out.u32(b.length);
      }
      this.out.bytes(b);
      return;
    }
    // protocols 0–2: _codecs.encode(latin-1 text, 'latin1')
    this.out.ascii('c_codecs\nencode\n');
    if (this.protocol < 2) this.out.byte(0x28);
    this.saveStr(String.fromCharCode(...b));
    this.saveStr('latin1');
    if (this.protocol >= 2) this.out.byte(0x86);
    else this.out.byte(0x74);
    this.out.byte(0x52);
  }

  private saveList(v: Model[]): void {
    if (this.protocol >= 1) this.out.byte(0x5d);
    else this.out.byte(0x28, 0x6c);
    this.put(v);
    if (this.protocol === 0) {
      for (const x of v) {
        this.save(x);
        this.out.byte(0x61);
      }
      return;
    }
    for (let i = 0; i < v.length; i += 1000) {
      const batch = v.slice(i, i + 1000);
      if (batch.length === 1) {
        this.save(batch[0]);
        this.out.byte(0x61);
        continue;
      }
      this.out.byte(0x28);
      for (const x of batch) this.save(x);
      this.out.byte(0x65);
    }
  }

  private saveDict(v: Map<Model, Model>): void {
    if (this.protocol >= 1) this.out.byte(0x7d);
    else this.out.byte(0x28, 0x64);
    this.put(v);
    const items = [...v];
    if (this.protocol === 0) {
      for (const [k, x] of items) {
        this.save(k);
        this.save(x);
        this.out.byte(0x73);
      }
      return;
    }
    for (let i = 0; i < items.length; i += 1000) {
      this.out.byte(0x28);
      for (const [k, x] of items.slice(i, i + 1000)) {
        this.save(k);
        this.save(x);
      }
      this.out.byte(0x75);
    }
  }

  private saveTuple(items: Model[], self: object): void {
    if (items.length === 0 && this.protocol >= 1) {
      this.out.byte(0x29);
      return;
    }
    if (this.protocol >= 2 && items.length <= 3) {
      for (const x of items) this.save(x);
      this.out.byte([0x85, 0x86, 0x87][items.length - 1]);
    } else {
      this.out.byte(0x28);
      for (const x of items) this.save(x);
      this.out.byte(0x74);
    }
    this.put(self);
  }
}

/** Pickles `v` with `protocol` (0–5). */
export function dumps(v: Model, protocol: number): Uint8Array {
  return new Pickler(protocol).dump(v);
}

/** Builds pickle bytes from opcode bytes and ASCII text pieces. */
export function ops(...parts: Array<number | string | Uint8Array>): Uint8Array {
  const out = new Out();
  for (const p of parts) {
    if (typeof p === 'number') out.byte(p);
    else if (typeof p === 'string') out.ascii(p);
    else out.bytes(p);
  }
  return out.result();
}
