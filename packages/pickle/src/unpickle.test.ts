import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PhalanxConfigError } from '@phalanx/errors';
import { isNdArray, unpickle, unpickleAt, type PyValue } from './index';

const fixtures = fileURLToPath(new URL('../test/fixtures/', import.meta.url));

describe('unpickle', () => {
  const expected = JSON.parse(readFileSync(join(fixtures, 'numpy/expected.json'), 'utf8')) as Record<
    string,
    { shape: number[]; data: number[] }
  >;
  for (const proto of [0, 3, 4, 5]) {
    it(`reads dicts, lists, scalars and NumPy arrays in protocol ${proto}`, () => {
      const v = unpickle(readFileSync(join(fixtures, `numpy/proto${proto}.pickle`)), 'p') as Map<PyValue, PyValue>;
      const inner = v.get(7) as Map<string, PyValue>;
      for (const [name, e] of Object.entries(expected)) {
        const arr = inner.get(name);
        expect(isNdArray(arr), name).toBe(true);
        if (isNdArray(arr)) {
          expect(arr.shape).toEqual(e.shape);
          expect(Array.from(arr.data)).toEqual(e.data);
        }
      }
      expect(inner.get('misc')).toEqual([
        1,
        2.5,
        null,
        true,
        false,
        'text',
        new Uint8Array([121, 122]),
        [3, 4],
        -70000,
        2 ** 40,
      ]);
    });
  }

  it('refuses code-executing globals and truncated input with named errors', () => {
    const evil = new Uint8Array([0x80, 0x02, ...Buffer.from('cos\nsystem\n'), 0x2e]);
    expect(() => unpickle(evil, 'evil.pickle')).toThrow(
      "evil.pickle: pickle opcode 0x63 at byte 2 refers to the Python global 'os.system', which this reader does not rebuild",
    );
    const good = readFileSync(join(fixtures, 'numpy/proto4.pickle'));
    expect(() => unpickle(good.subarray(0, 100), 'cut.pickle')).toThrow(
      /cut\.pickle: pickle opcode .* \(truncated pickle\)/,
    );
  });

  it('refuses arguments of the wrong type by name, not as a TypeError', () => {
    const none = new Uint8Array([0x80, 0x02, 0x4e, 0x2e]); // PROTO 2, NONE, STOP
    const cases: [() => unknown, string][] = [
      [() => unpickle(null as never), 'unpickle: bytes must be a Uint8Array (or Buffer), but received null.'],
      [
        () => unpickle(none.buffer as never),
        "unpickle: bytes must be a Uint8Array (or Buffer), but received 'ArrayBuffer'.",
      ],
      [() => unpickle(none, null as never), 'unpickle: options must be a file name or an object'],
      [() => unpickle(none, [] as never), 'unpickle: options must be a file name or an object'],
      [
        () => unpickle(none, { fiel: 'a.pkl' } as never),
        'unpickle: options.fiel must be an option (one of file, globals, persistentLoad)',
      ],
      [() => unpickle(none, { file: 3 } as never), 'unpickle: options.file must be a string, but received 3.'],
      [() => unpickle(none, { globals: {} } as never), "unpickle: options.globals must be a Map of 'module.qualname'"],
      [() => unpickle(none, { persistentLoad: 1 } as never), 'unpickle: options.persistentLoad must be a function'],
      [() => unpickleAt(none, -1), 'unpickleAt: offset must be an integer ≥ 0, but received -1.'],
      [() => unpickleAt(none, 1.5), 'unpickleAt: offset must be an integer ≥ 0, but received 1.5.'],
      [() => unpickleAt(none, NaN), 'unpickleAt: offset must be an integer ≥ 0, but received NaN.'],
    ];
    for (const [f, message] of cases) {
      expect(f, message).toThrow(PhalanxConfigError);
      expect(f).toThrow(message);
    }
    expect(unpickle(none, { globals: new Map() })).toBeNull();
    expect(unpickleAt(none, 0)).toEqual({ value: null, end: 4 });
  });
});
