/**
 * The unpickler's contracts against hostile input: time linear in the input, no stack overflow, and a
 * named error for every input Python itself would refuse (or that this reader refuses by design).
 */
import { PhalanxFileError } from '@phalanx/errors';
import { describe, expect, it } from 'vitest';
import { encodeLong, ops } from '../test/pickler';
import { isNdArray, unpickle, type PyValue } from './index';

const PROTO2 = [0x80, 0x02];
const STOP = 0x2e;

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

/** Runs `f` and returns how long it took in ms (a generous bound on a linear-time decode, not a benchmark). */
function timed<T>(f: () => T): [T, number] {
  const t0 = performance.now();
  const v = f();
  return [v, performance.now() - t0];
}

describe('unpickle: time linear in the input', () => {
  it('decodes a 200 KB LONG4 exactly, in linear time', () => {
    const n = 200_000;
    // 2^(8n−1) − 1: every byte 0xff but the last, 0x7f.
    const body = new Uint8Array(n).fill(0xff);
    body[n - 1] = 0x7f;
    const [v, ms] = timed(() => unpickle(ops(...PROTO2, 0x8b, u32(n), body, STOP)));
    expect(v).toBe((1n << BigInt(8 * n - 1)) - 1n);
    // The former per-byte BigInt shift took 13 s on a quiet machine (80 s on a loaded one); linear decoding
    // takes 20 ms (2 s under a load of 16 on 2 cores): a generous bound between the two.
    expect(ms).toBeLessThan(10_000);
  });

  it('refuses a 200 000-digit FLOAT that is not a number in linear time, and reads every decimal form', () => {
    const refuses = (bytes: Uint8Array, message: RegExp) => expect(() => unpickle(bytes, 'x.pickle')).toThrow(message);
    const digits = '1'.repeat(200_000);
    // The former pattern backtracked over every split of the digit run: 20 000 digits took 2.4 s, 200 000 ≈ 4 min.
    const [, ms] = timed(() => refuses(ops(`F${digits}x\n`, STOP), /not a number/));
    expect(ms).toBeLessThan(10_000);
    expect(unpickle(ops(`F${digits}.5e-199990\n`, STOP))).toBe(Number(`${digits}.5e-199990`));
    for (const text of ['1.', '.5', '1.5e3', '1e5', '+.5e-2', ' -0.0 ', '7']) {
      expect(unpickle(ops(`F${text}\n`, STOP))).toBe(Number(text.trim()));
    }
    for (const text of ['.', '1.2.3', 'e5', '1e', '--1', '1 2']) refuses(ops(`F${text}\n`, STOP), /not a number/);
  });

  it('decodes LONG1 and LONG4 of any sign as Python does', () => {
    for (const v of [0n, 1n, -1n, 127n, 128n, -128n, -129n, 2n ** 53n, -(2n ** 63n), 2n ** 64n + 5n, -(7n ** 90n)]) {
      const b = encodeLong(v);
      const expected = v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
      expect(unpickle(ops(...PROTO2, 0x8a, b.length, b, STOP))).toBe(expected);
      expect(unpickle(ops(...PROTO2, 0x8b, u32(b.length), b, STOP))).toBe(expected);
    }
  });
});

describe('unpickle: no stack overflow', () => {
  const N = 200_000;
  it(`APPENDS with ${N} items`, () => {
    const items = new Uint8Array(2 * N);
    for (let i = 0; i < N; i++) items.set([0x4b, i & 0xff], 2 * i);
    const v = unpickle(ops(...PROTO2, 0x5d, 0x28, items, 0x65, STOP)) as number[];
    expect(v.length).toBe(N);
    expect(v[N - 1]).toBe((N - 1) & 0xff);
  });

  it(`SETITEMS with ${N} pairs and ADDITEMS with ${N} items`, () => {
    const pairs = new Uint8Array(6 * N);
    for (let i = 0; i < N; i++) pairs.set([0x4a, ...u32(i), 0x4e], 6 * i);
    const d = unpickle(ops(...PROTO2, 0x7d, 0x28, pairs, 0x75, STOP)) as Map<PyValue, PyValue>;
    expect(d.size).toBe(N);
    expect(d.get(N - 1)).toBe(null);
    const items = new Uint8Array(5 * N);
    for (let i = 0; i < N; i++) items.set([0x4a, ...u32(i)], 5 * i);
    const s = unpickle(ops(0x80, 4, 0x8f, 0x28, items, 0x90, STOP)) as number[];
    expect(s.length).toBe(N);
  });

  it('nests 100 000 lists deep', () => {
    const depth = 100_000;
    const open = new Uint8Array(depth).fill(0x5d);
    const close = new Uint8Array(depth - 1).fill(0x61);
    let d = 1;
    for (let v = unpickle(ops(...PROTO2, open, close, STOP)) as PyValue[]; v.length > 0; v = v[0] as PyValue[]) d++;
    expect(d).toBe(depth);
  });
});

describe('unpickle: named errors for what Python refuses', () => {
  const refuses = (bytes: Uint8Array, message: RegExp) => {
    expect(() => unpickle(bytes, 'x.pickle')).toThrow(PhalanxFileError);
    expect(() => unpickle(bytes, 'x.pickle')).toThrow(message);
  };

  it('unknown protocols', () => {
    refuses(ops(0x80, 6, 0x4e, STOP), /x\.pickle: pickle opcode 0x80 at byte 0 declares pickle protocol 6/);
    refuses(ops(0x80, 0xff, 0x4e, STOP), /protocol 255, but this reader knows protocols 0–5/);
    expect(unpickle(ops(0x80, 5, 0x4e, STOP))).toBe(null);
  });

  it('text INT, LONG and FLOAT that are not numbers', () => {
    refuses(ops('Iabc\n', STOP), /the INT 'abc', which is not a decimal integer/);
    refuses(ops('I12x\n', STOP), /not a decimal integer/);
    refuses(ops('I\n', STOP), /not a decimal integer/);
    refuses(ops('L0x10L\n', STOP), /the LONG '0x10', which is not a decimal integer/);
    refuses(ops('Fxyz\n', STOP), /the float 'xyz', which is not a number/);
    refuses(ops('F1.5abc\n', STOP), /not a number/);
    refuses(ops('F\n', STOP), /not a number/);
    expect(unpickle(ops('I-42\n', STOP))).toBe(-42);
    expect(unpickle(ops('I01\n', STOP))).toBe(true);
    expect(unpickle(ops('L123456789012345678901234567890L\n', STOP))).toBe(123456789012345678901234567890n);
    expect(unpickle(ops('F-1.5e-3\n', STOP))).toBe(-1.5e-3);
    expect(unpickle(ops('Finf\n', STOP))).toBe(Infinity);
    expect(unpickle(ops('F-inf\n', STOP))).toBe(-Infinity);
    expect(unpickle(ops('Fnan\n', STOP))).toBeNaN();
  });

  /** `numpy.core.multiarray._reconstruct(ndarray, (0,), b'b')` + BUILD (1, shape, dtype('<f4'), False, raw). */
  function ndarrayPickle(shape: number[] | string, raw: Uint8Array): Uint8Array {
    const dims = typeof shape === 'string' ? shape : shape.map((d) => `I${d}\n`).join('');
    return ops(
      'cnumpy.core.multiarray\n_reconstruct\n',
      '(cnumpy\nndarray\n(I0\ntS"b"\ntR',
      '(I1\n(',
      dims,
      't',
      'cnumpy\ndtype\n(S"f4"\nI0\nI1\ntR(I3\nS"<"\nNNNI-1\nI-1\nI0\ntb',
      'I00\n',
      0x42,
      u32(raw.length),
      raw,
      'tb',
      STOP,
    );
  }

  it('NumPy shapes with negative or fractional dimensions', () => {
    const ok = unpickle(ndarrayPickle([2, 3], new Uint8Array(24)));
    expect(isNdArray(ok) && ok.shape).toEqual([2, 3]);
    // (−2, −3) has 6 elements, as 24 bytes of f4 do: only the dimension check refuses it.
    refuses(ndarrayPickle([-2, -3], new Uint8Array(24)), /the dimension -2, which is not a non-negative integer/);
    refuses(ndarrayPickle('F1.5\nI2\n', new Uint8Array(12)), /the dimension 1.5, which is not a non-negative integer/);
    refuses(ndarrayPickle('L99999999999999999999L\n', new Uint8Array(0)), /not a non-negative integer/);
  });

  it('cyclic containers (documented: every result is a tree)', () => {
    // l = []; l.append(l)
    refuses(ops(...PROTO2, 0x5d, 0x71, 0, 0x68, 0, 0x61, STOP), /returns a list or dict that contains itself/);
    // d = {}; d['self'] = [d]
    refuses(ops(...PROTO2, 0x7d, 0x71, 0, 'U\x04self', 0x68, 0, 0x85, 0x73, STOP), /contains itself/);
    // Shared, acyclic: [x, x] is fine, and both items are the same object.
    const shared = unpickle(ops(...PROTO2, 0x5d, 0x28, 0x5d, 0x71, 1, 0x68, 1, 0x65, STOP)) as PyValue[][];
    expect(shared[0]).toBe(shared[1]);
  });

  it('keeps a leading byte-order mark and lone surrogates in text', () => {
    expect(unpickle(ops(...PROTO2, 0x58, u32(4), 0xef, 0xbb, 0xbf, 0x61, STOP))).toBe('\ufeffa');
    expect(unpickle(ops(...PROTO2, 0x58, u32(3), 0xed, 0xa0, 0x80, STOP))).toBe('\ud800');
  });

  it('an unbuilt NumPy array, APPEND to a tuple, and an odd SETITEMS', () => {
    refuses(
      ops('cnumpy.core.multiarray\n_reconstruct\n(cnumpy\nndarray\nI0\ntR', STOP),
      /leaves 1 object\(s\) without the state BUILD must set/,
    );
    refuses(ops(...PROTO2, 0x29, 0x4e, 0x61, STOP), /appends to something that is not a list/);
    refuses(ops(...PROTO2, 0x7d, 0x28, 0x4e, 0x75, STOP), /odd number of items/);
    refuses(ops(...PROTO2, 0x4e), /ends before its STOP opcode/);
    refuses(ops(...PROTO2, 0xff), /0xff at byte 2 is not a pickle opcode/);
    refuses(ops('V\\U00110000\n', STOP), /beyond the last Unicode code point/);
    refuses(ops(...PROTO2, 0x58, u32(2), 0xc3, 0x28, STOP), /not valid UTF-8/);
  });
});

describe('unpickle: memory bounded by the input', () => {
  /**
   * A pickle that memoizes one `payload` (`BINPUT 0`), the callable `global` (`BINPUT 1`) and `extra`, which
   * memoizes `count` more arguments (`BINPUT 2…`), then calls `global(payload, *more)` `calls` times into one
   * list: about 12 bytes a call, each building a copy of the payload (or 8× it, as NumPy float64 values).
   */
  function amplifier(payload: Uint8Array, global: string, extra: Uint8Array, count: number, calls: number): Uint8Array {
    const args = Array.from({ length: count }, (_, i) => [0x68, 2 + i]).flat();
    const call = [0x68, 1, 0x28, 0x68, 0, ...args, 0x74, 0x52];
    return ops(
      0x80,
      3,
      payload,
      0x71,
      0,
      0x30,
      `c${global}\n`,
      0x71,
      1,
      0x30,
      extra,
      0x5d,
      0x28,
      new Uint8Array(Array.from({ length: calls }, () => call).flat()),
      0x65,
      STOP,
    );
  }
  const raw = 100_000;
  const bytes = ops(0x42, u32(raw), new Uint8Array(raw));
  const list = ops(
    0x5d,
    0x28,
    new Uint8Array(2 * raw).map((_, i) => (i % 2 === 0 ? 0x4b : 7)),
    0x65,
  );
  // frombuffer(payload, dtype('u1'), (100000,)): the dtype at memo 2, the shape at memo 3.
  const u1 = ops('cnumpy\ndtype\n', 0x58, u32(2), 'u1', 0x85, 0x52, 0x71, 2, 0x30, 0x4a, u32(raw), 0x85, 0x71, 3, 0x30);

  it('refuses a small pickle whose calls copy one memoized value thousands of times, before allocating it all', () => {
    const cases: [string, Uint8Array][] = [
      // 300 NumPy arrays of 100 000 uint8, each 800 KB of float64 values: 240 MB from a 104 KB file.
      ['numpy frombuffer', amplifier(bytes, 'numpy.core.numeric\n_frombuffer', u1, 2, 300)],
      // 3000 copies of a 100 KB bytes object, and 300 sets of a 100 000-item list.
      ['bytearray', amplifier(bytes, 'builtins\nbytearray', new Uint8Array(0), 0, 3000)],
      ['set', amplifier(list, 'builtins\nset', new Uint8Array(0), 0, 300)],
    ];
    for (const [what, pickle] of cases) {
      expect(pickle.length, what).toBeLessThan(250_000);
      const before = process.memoryUsage();
      const [error, ms] = timed(() => {
        try {
          unpickle(pickle, 'x.pickle');
        } catch (e) {
          return e;
        }
      });
      expect(error, what).toBeInstanceOf(PhalanxFileError);
      expect((error as Error).message).toMatch(
        /^x\.pickle: pickle opcode 0x52 at byte \d+ builds more than \d+ bytes of values/,
      );
      const after = process.memoryUsage();
      expect(after.arrayBuffers + after.heapUsed - before.arrayBuffers - before.heapUsed, what).toBeLessThan(150e6);
      expect(ms).toBeLessThan(10_000);
    }
  });

  it('decodes the same calls within the budget', () => {
    const arrays = unpickle(amplifier(bytes, 'numpy.core.numeric\n_frombuffer', u1, 2, 3)) as PyValue[];
    expect(arrays).toHaveLength(3);
    expect(arrays.every((a) => isNdArray(a) && a.shape[0] === raw)).toBe(true);
    expect(unpickle(amplifier(list, 'builtins\nset', new Uint8Array(0), 0, 20))).toHaveLength(20);
  });
});
